/** What a chaos run can be asked to do (`npm run chaos -- --<option> <value>`), and its report. */
import type { HttpStats } from './http';
import type { Check } from './invariants';
import type { ProcessExit } from './processes';

export interface ChaosOptions {
  /** Sagas to start (orders + transfers). */
  sagas: number;
  /** Sagas submitted at once. */
  concurrency: number;
  workers: number;
  /** Share of sagas that are transfers. */
  transferShare: number;
  /** Share of sagas whose POST is sent 2-3 times at once with one Idempotency-Key. */
  duplicateShare: number;
  /** Share of orders above APPROVAL_THRESHOLD (approved by the harness). */
  bigOrderShare: number;
  /** Share of orders shipped to an unserved country (compensate after booking fails). */
  unservedShare: number;
  /** Share of transfers larger than any balance (fail, refund compensation runs). */
  hopelessTransferShare: number;
  /** Zombie faults (delay_before_effect > timeout) armed over debit/reserve/credit. */
  zombies: number;
  zombieDelayMs: number;
  /** SIGKILL + restart of a worker, spread over the run. */
  workerKills: number;
  /** SIGKILL + restart of the outbox relay (mid-publish, or between PubAck and checkpoint). */
  relayKills: number;
  /** SIGKILL + restart of the loyalty service (with messages delivered and not yet acked). */
  loyaltyKills: number;
  /** Make one of the kills hit while compensations are failing (armed `fail` faults). */
  compensationKill: boolean;
  /** How long compensation `fail` faults stay armed (well below the compensation retry budget). */
  compensationFaultMs: number;
  /** pg_terminate_backend rounds on the run's database. */
  connectionKills: number;
  activityStartToClose: string;
  approvalThreshold: number;
  seed: number;
  /** Postgres server URL (a fresh database is created on it). */
  databaseUrl: string;
  /** Existing Temporal server; when absent a dev server is started (and stopped). */
  temporalAddress: string | undefined;
  keepDatabase: boolean;
  settleTimeoutMs: number;
  runDir: string | undefined;
  log: (line: string) => void;
}

export interface ChaosReport {
  ok: boolean;
  runId: string;
  seed: number;
  database: string;
  taskQueue: string;
  runDir: string;
  startedAt: string;
  durationSeconds: number;
  phaseSeconds: Record<string, number>;
  options: Omit<ChaosOptions, 'log'>;
  figures: Record<string, number | string>;
  checks: Check[];
  faults: Record<string, number | string>;
  http: HttpStats;
  unexpectedExits: ProcessExit[];
  timeline: Array<{ t: number; what: string }>;
  error?: string;
}

export const DEFAULT_OPTIONS: Omit<
  ChaosOptions,
  'log' | 'databaseUrl' | 'temporalAddress' | 'runDir'
> = {
  sagas: 500,
  concurrency: 16,
  workers: 2,
  transferShare: 0.3,
  duplicateShare: 0.1,
  bigOrderShare: 0.02,
  unservedShare: 0.06,
  hopelessTransferShare: 0.05,
  zombies: 60,
  zombieDelayMs: 4_500,
  workerKills: 4,
  relayKills: 3,
  loyaltyKills: 3,
  compensationKill: true,
  compensationFaultMs: 10_000,
  connectionKills: 3,
  activityStartToClose: '3s',
  approvalThreshold: 50_000,
  seed: 42,
  keepDatabase: false,
  settleTimeoutMs: 600_000,
};

/** The account the order sagas pay revenue into (the workers open it). */
export const MERCHANT = 'merchant-revenue';
