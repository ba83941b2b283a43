/**
 * What the chaos phases share: the run (options, ids, report, log), the system under test,
 * and what each phase leaves for the next (the seed, the workload, the sagas accepted, the
 * fault counts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client as TemporalClient, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import type { PostgresEventStore } from '../../src/eventstore';
import { withDatabase } from '../../src/infra/databaseUrl';
import type { ApiClient } from './http';
import { DEFAULT_OPTIONS, type ChaosOptions, type ChaosReport } from './options';
import type { ManagedProcess } from './processes';
import type { SagaRecord } from './sagaRecord';
import { Random } from './util';

/** One run: its options, names, seeded randomness, report and timeline. */
export interface ChaosRun {
  readonly options: ChaosOptions;
  readonly runId: string;
  readonly dbName: string;
  readonly dbUrl: string;
  readonly taskQueue: string;
  readonly runDir: string;
  /** Date.now() when the run started: the startup phase is timed from here. */
  readonly startedAt: number;
  /** The one source of randomness (workload and fault plan), so a seed replays a run. */
  readonly rnd: Random;
  readonly report: ChaosReport;
  /** Seconds since the start, to a tenth. */
  readonly elapsed: () => number;
  /** Adds a line to the timeline and the log. */
  readonly note: (what: string) => void;
}

export function startRun(partial: Partial<ChaosOptions>): ChaosRun {
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    runDir: undefined,
    log: (line) => console.log(line),
    ...partial,
  };
  const startedAt = Date.now();
  const elapsed = () => Math.round((Date.now() - startedAt) / 100) / 10;
  const rnd = new Random(options.seed);
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `sagaflow_chaos_${runId}`;
  const taskQueue = `chaos-${runId}`;
  const runDir = options.runDir ?? path.join(os.tmpdir(), `sagaflow-chaos-${runId}`);
  fs.mkdirSync(runDir, { recursive: true });

  const { log: _log, ...reportOptions } = options;
  const report: ChaosReport = {
    ok: false,
    runId,
    seed: options.seed,
    database: dbName,
    taskQueue,
    runDir,
    startedAt: new Date(startedAt).toISOString(),
    durationSeconds: 0,
    phaseSeconds: {},
    options: reportOptions,
    figures: {},
    checks: [],
    faults: {},
    http: { requests: 0, retries: 0, serverErrors: 0, networkErrors: 0, replayed: 0 },
    unexpectedExits: [],
    timeline: [],
  };
  return {
    options,
    runId,
    dbName,
    dbUrl: withDatabase(options.databaseUrl, dbName),
    taskQueue,
    runDir,
    startedAt,
    rnd,
    report,
    elapsed,
    note: (what) => {
      report.timeline.push({ t: elapsed(), what });
      options.log(`[chaos ${elapsed().toFixed(1)}s] ${what}`);
    },
  };
}

/** The system under test, as buildChaosSystem (harness.ts) made it. */
export interface ChaosSystem {
  pool: Pool;
  store: PostgresEventStore;
  connection: Connection;
  temporal: TemporalClient;
  /** The harness's connection to the run's nats-server (streams in place). */
  nats: NatsConnection;
  /** The API process's HTTP client (its stats are the report's `http`). */
  http: ApiClient;
  api: ManagedProcess;
  workers: ManagedProcess[];
  /** The outbox relay (role `relay`) and the loyalty service: the bus's two ends. */
  relay: ManagedProcess;
  loyalty: ManagedProcess;
  /** Every process: API, projector, workers, relay, loyalty. */
  processes: ManagedProcess[];
  /** Set once the harness stops the processes on purpose: exits no longer count or restart. */
  readonly shutdown: { requested: boolean };
  /** Stops the processes, closes the connections, drops the run's database. */
  readonly teardown: () => Promise<void>;
}

/** One saga to submit: a POST, sent `copies` times at once with one Idempotency-Key. */
export interface WorkItem {
  index: number;
  kind: 'order' | 'transfer';
  key: string;
  path: string;
  body: Record<string, unknown>;
  copies: number;
  big: boolean;
  lines?: Array<{ sku: string; quantity: number }>;
}

export interface Seeded {
  customers: number;
  skus: string[];
  depositsSent: number;
  restockedSent: Record<string, number>;
}

export interface DuplicateStats {
  keysDuplicated: number;
  extraRequests: number;
  mismatched: number;
  failedCopies: number;
  submitFailures: number;
  lateReplays: number;
  lateMismatched: number;
}

export interface FaultCounts {
  workerKills: number;
  relayKills: number;
  loyaltyKills: number;
  compensationKills: number;
  sagasCompensatingAtKill: number;
  compensationFaultsFired: number;
  connectionKillRounds: number;
  backendsTerminated: number;
  zombiesArmed: number;
  zombiesFired: number;
}

export interface ChaosContext extends ChaosRun {
  readonly system: ChaosSystem;
  /** Accounts and stock the startup phase put in. */
  seeded: Seeded;
  items: WorkItem[];
  /** Sagas the API accepted, in order, and by Idempotency-Key. */
  readonly sagas: SagaRecord[];
  readonly sagaByKey: Map<string, SagaRecord>;
  /** Items submitted so far (accepted or given up): the fault plan's clock. */
  submitted: number;
  readonly duplicates: DuplicateStats;
  readonly faults: FaultCounts;
  readonly approvals: { approved: number };
  /** The loop approving big orders; runs until shutdown. */
  approver: Promise<void>;
  /** Workflows on the run's task queue, counted once every saga settled. */
  workflowCount: number;
}

export function newContext(run: ChaosRun, system: ChaosSystem): ChaosContext {
  return {
    ...run,
    system,
    seeded: { customers: 0, skus: [], depositsSent: 0, restockedSent: {} },
    items: [],
    sagas: [],
    sagaByKey: new Map(),
    submitted: 0,
    duplicates: {
      keysDuplicated: 0,
      extraRequests: 0,
      mismatched: 0,
      failedCopies: 0,
      submitFailures: 0,
      lateReplays: 0,
      lateMismatched: 0,
    },
    faults: {
      workerKills: 0,
      relayKills: 0,
      loyaltyKills: 0,
      compensationKills: 0,
      sagasCompensatingAtKill: 0,
      compensationFaultsFired: 0,
      connectionKillRounds: 0,
      backendsTerminated: 0,
      zombiesArmed: 0,
      zombiesFired: 0,
    },
    approvals: { approved: 0 },
    approver: Promise.resolve(),
    workflowCount: 0,
  };
}
