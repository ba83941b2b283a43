/**
 * The chaos harness: runs the whole system as separate OS processes (API, projector, several
 * fault-injecting workers), drives orders and transfers through the HTTP API while killing
 * workers, terminating Postgres connections, arming zombies and sending duplicate requests,
 * then waits for every saga to end and checks the invariants (see invariants.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient, Pool } from 'pg';
import { migrate } from '../../src/eventstore';
import { createEventStore } from '../../src/application/eventStore';
import { startTemporalDevServer, type DevServerHandle } from '../../src/infra/temporalDevServer';
import { SAGA_STATUS } from '../../workflows/searchAttributes';
import type { SagaResult } from '../../workflows/definitions';
import { ApiClient, HttpError, type HttpStats } from './http';
import { checkInvariants, isTerminal, type Check, type SagaRecord } from './invariants';
import { ManagedProcess, type ProcessExit } from './processes';
import { freePort, mapLimit, Random, sleep } from './util';
import { withDatabase } from '../../src/infra/databaseUrl';

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
  compensationKill: true,
  compensationFaultMs: 10_000,
  connectionKills: 3,
  activityStartToClose: '3s',
  approvalThreshold: 50_000,
  seed: 42,
  keepDatabase: false,
  settleTimeoutMs: 600_000,
};

const MERCHANT = 'merchant-revenue';
const APP_NAME = 'sagaflow-chaos';
const COUNTRIES = ['GB', 'FR', 'DE', 'NL', 'US'];

interface WorkItem {
  index: number;
  kind: 'order' | 'transfer';
  key: string;
  path: string;
  body: Record<string, unknown>;
  copies: number;
  big: boolean;
  lines?: Array<{ sku: string; quantity: number }>;
}

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    runDir: undefined,
    log: (line) => console.log(line),
    ...partial,
  };
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 100) / 10;
  const timeline: ChaosReport['timeline'] = [];
  const note = (what: string) => {
    timeline.push({ t: elapsed(), what });
    options.log(`[chaos ${elapsed().toFixed(1)}s] ${what}`);
  };
  const phaseSeconds: Record<string, number> = {};
  let phaseStart = Date.now();
  const endPhase = (name: string) => {
    phaseSeconds[name] = Math.round((Date.now() - phaseStart) / 100) / 10;
    phaseStart = Date.now();
  };

  const rnd = new Random(options.seed);
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `sagaflow_chaos_${runId}`;
  const dbUrl = withDatabase(options.databaseUrl, dbName);
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
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    phaseSeconds,
    options: reportOptions,
    figures: {},
    checks: [],
    faults: {},
    http: { requests: 0, retries: 0, serverErrors: 0, networkErrors: 0, replayed: 0 },
    unexpectedExits: [],
    timeline,
  };

  let pool: Pool | undefined;
  let devServer: DevServerHandle | undefined;
  let connection: Connection | undefined;
  const processes: ManagedProcess[] = [];
  let shuttingDown = false;
  let dbCreated = false;

  try {
    // --- Infrastructure ------------------------------------------------------------------
    await withAdmin(options.databaseUrl, (admin) => admin.query(`CREATE DATABASE ${dbName}`));
    dbCreated = true;
    await migrate(dbUrl);
    pool = new Pool({ connectionString: dbUrl, max: 6, application_name: APP_NAME });
    pool.on('error', () => undefined);
    const store = createEventStore(pool);

    let temporalAddress = options.temporalAddress;
    if (!temporalAddress) {
      devServer = await startTemporalDevServer({
        cliPath: process.env.TEMPORAL_CLI_PATH,
        port: await freePort(),
        ui: false,
      });
      temporalAddress = devServer.address;
      note(`started Temporal dev server at ${temporalAddress}`);
    }
    connection = await Connection.connect({ address: temporalAddress });
    const temporal = new TemporalClient({ connection, namespace: 'default' });

    const apiPort = await freePort();
    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      DATABASE_URL: dbUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: taskQueue,
      ACTIVITY_START_TO_CLOSE: options.activityStartToClose,
      ACTIVITY_MAX_ATTEMPTS: '10',
      COMPENSATION_MAX_ATTEMPTS: '20',
      APPROVAL_THRESHOLD: String(options.approvalThreshold),
      MERCHANT_ACCOUNT_ID: MERCHANT,
      UNSERVED_COUNTRIES: 'KP,IR,SY,CU',
      LOG_LEVEL: 'warn',
      METRICS_PORT: '0',
      API_KEYS: '',
      PG_POOL_MAX: '8',
    };
    const onExit = (exit: ProcessExit) => {
      if (exit.expected || shuttingDown) return;
      report.unexpectedExits.push(exit);
      note(
        `UNEXPECTED exit of ${exit.name} (pid ${exit.pid}, code ${exit.code}, signal ${exit.signal}); restarting`,
      );
      const proc = processes.find((p) => p.name === exit.name);
      setTimeout(() => {
        if (!shuttingDown) proc?.start();
      }, 1_000);
    };
    const spawnProc = (name: string, entry: string, env: NodeJS.ProcessEnv) => {
      const proc = new ManagedProcess(name, entry, env, path.join(runDir, `${name}.log`), onExit);
      processes.push(proc);
      proc.start();
      return proc;
    };
    const api = spawnProc('api', 'src/api/server.ts', {
      ...baseEnv,
      PORT: String(apiPort),
      HOST: '127.0.0.1',
    });
    spawnProc('projector', 'src/projections/main.ts', baseEnv);
    const workers = Array.from({ length: options.workers }, (_, i) =>
      spawnProc(`worker-${i + 1}`, 'src/worker/main.ts', {
        ...baseEnv,
        FAULT_INJECTION: 'enabled',
      }),
    );
    note(
      `spawned api (pid ${api.pid}, port ${apiPort}), projector, ${workers.length} workers; logs in ${runDir}`,
    );

    const http = new ApiClient(`http://127.0.0.1:${apiPort}`);
    report.http = http.stats;
    await waitFor('API /health', 120_000, async () => {
      try {
        return (await fetch(`${http.baseUrl}/health`)).ok;
      } catch {
        return false;
      }
    });
    await Promise.all(workers.map((w) => waitForPoller(connection!, taskQueue, w, 180_000)));
    note('API healthy, every worker polling');

    // --- Seed ------------------------------------------------------------------------------
    const orderCount = Math.round(options.sagas * (1 - options.transferShare));
    const customers = Math.max(4, Math.ceil(options.sagas / 25));
    const deposit = 150_000;
    const skus = Array.from(
      { length: Math.max(3, Math.min(8, Math.ceil(options.sagas / 60))) },
      (_, i) => `sku-${i + 1}`,
    );
    // ~3 units per order; stock a little short of demand so late orders run out.
    const perSku = Math.ceil(((orderCount * 3) / skus.length) * 0.9);
    await mapLimit(
      Array.from({ length: customers }, (_, i) => i),
      4,
      async (i) => {
        await http.post(
          '/accounts',
          { accountId: `c${i}`, ownerId: `owner-${i}`, initialDeposit: deposit },
          `${runId}/open/c${i}`,
        );
      },
    );
    const restockedSent: Record<string, number> = {};
    await mapLimit(skus, 4, async (sku) => {
      await http.post(`/inventory/${sku}/restock`, { quantity: perSku }, `${runId}/restock/${sku}`);
      restockedSent[sku] = perSku;
    });
    const depositsSent = customers * deposit;
    note(`seeded ${customers} customer accounts x ${deposit}, ${skus.length} SKUs x ${perSku}`);
    endPhase('startup');

    // --- Workload ----------------------------------------------------------------------------
    const items: WorkItem[] = [];
    for (let i = 0; i < options.sagas; i++) {
      const key = `${runId}-saga-${i}`;
      const copies = rnd.chance(options.duplicateShare) ? rnd.int(2, 3) : 1;
      if (rnd.chance(options.transferShare)) {
        const from = rnd.int(0, customers - 1);
        const to = (from + rnd.int(1, customers - 1)) % customers;
        const amount = rnd.chance(options.hopelessTransferShare) ? 10_000_000 : rnd.int(100, 8_000);
        items.push({
          index: i,
          kind: 'transfer',
          key,
          path: '/transfers',
          copies,
          big: false,
          body: { fromAccountId: `c${from}`, toAccountId: `c${to}`, amount },
        });
      } else {
        const customer = rnd.int(0, customers - 1);
        const big = rnd.chance(options.bigOrderShare);
        const lineCount = big ? 1 : rnd.int(1, 2);
        const chosen = new Set<string>();
        while (chosen.size < lineCount) chosen.add(rnd.pick(skus));
        const lines = [...chosen].map((sku) => ({
          sku,
          quantity: big ? 5 : rnd.int(1, 3),
          unitPrice: big ? Math.ceil(options.approvalThreshold / 5) + 100 : rnd.int(300, 2_500),
        }));
        const country = rnd.chance(options.unservedShare) ? 'KP' : rnd.pick(COUNTRIES);
        items.push({
          index: i,
          kind: 'order',
          key,
          path: '/orders',
          copies,
          big,
          lines: lines.map(({ sku, quantity }) => ({ sku, quantity })),
          body: {
            customerId: `cust-${customer}`,
            paymentAccountId: `c${customer}`,
            items: lines,
            shippingAddress: {
              name: `Customer ${customer}`,
              line1: `${i} Chaos Road`,
              city: 'Testville',
              postalCode: `T${i}`,
              country,
            },
          },
        });
      }
    }

    const sagas: SagaRecord[] = [];
    const sagaByKey = new Map<string, SagaRecord>();
    const dupStats = {
      keysDuplicated: 0,
      extraRequests: 0,
      mismatched: 0,
      failedCopies: 0,
      submitFailures: 0,
      lateReplays: 0,
      lateMismatched: 0,
    };
    let submitted = 0;
    const submit = async (item: WorkItem) => {
      type Accepted = { orderId?: string; transferId?: string; sagaId: string; total?: number };
      const attempts = await Promise.allSettled(
        Array.from({ length: item.copies }, () =>
          http.post<Accepted>(item.path, item.body, item.key),
        ),
      );
      const ok = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value.body] : []));
      if (item.copies > 1) {
        dupStats.keysDuplicated += 1;
        dupStats.extraRequests += item.copies - 1;
        dupStats.failedCopies += attempts.length - ok.length;
        const ids = new Set(ok.map((b) => `${b.orderId ?? b.transferId}|${b.sagaId}`));
        if (ids.size > 1) dupStats.mismatched += 1;
      }
      const first = ok[0];
      if (!first) {
        dupStats.submitFailures += 1;
        const reason = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
        note(
          `submit of ${item.key} failed: ${String(reason?.reason instanceof Error ? reason.reason.message : reason?.reason)}`,
        );
      } else {
        const id = (first.orderId ?? first.transferId)!;
        const record: SagaRecord = {
          kind: item.kind,
          key: item.key,
          id,
          sagaId: first.sagaId,
          amount: item.kind === 'order' ? first.total! : (item.body.amount as number),
          ...(item.lines && { lines: item.lines }),
          big: item.big,
        };
        sagas.push(record);
        sagaByKey.set(item.key, record);
      }
      submitted += 1;
      if (submitted % Math.max(10, Math.round(options.sagas / 10)) === 0)
        note(`submitted ${submitted}/${options.sagas}`);
    };

    // --- Fault plan ----------------------------------------------------------------------
    const faults = {
      workerKills: 0,
      compensationKills: 0,
      sagasCompensatingAtKill: 0,
      compensationFaultsFired: 0,
      connectionKillRounds: 0,
      backendsTerminated: 0,
      zombiesArmed: 0,
      zombiesFired: 0,
    };
    const armZombies = async (count: number) => {
      const perActivity = ['debitAccount', 'reserveStock', 'creditAccount'].map((activity, i) => ({
        activity,
        n: Math.floor(count / 3) + (i < count % 3 ? 1 : 0),
      }));
      for (const { activity, n } of perActivity) {
        if (n === 0) continue;
        await pool!.query(
          `INSERT INTO fault_injections (activity, mode, remaining, delay_ms) VALUES ($1, 'delay_before_effect', $2, $3)`,
          [activity, n, options.zombieDelayMs],
        );
      }
      faults.zombiesArmed += count;
      note(
        `armed ${count} zombies (delay_before_effect ${options.zombieDelayMs} ms > ${options.activityStartToClose}) on debitAccount/reserveStock/creditAccount`,
      );
    };
    const pickWorker = () => {
      const alive = workers.filter((w) => w.running);
      return alive.length > 0 ? rnd.pick(alive) : undefined;
    };
    const killWorker = async (why: string) => {
      const worker = pickWorker();
      if (!worker) return;
      const pid = worker.pid;
      await worker.kill();
      faults.workerKills += 1;
      note(`SIGKILL ${worker.name} (pid ${pid}) ${why}`);
      await sleep(rnd.int(1_000, 3_000));
      worker.start();
      note(`restarted ${worker.name} (pid ${worker.pid})`);
    };
    const terminateConnections = async () => {
      const killed = await withAdmin(options.databaseUrl, async (admin) => {
        const result = await admin.query<{ application_name: string; terminated: boolean }>(
          `SELECT application_name, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`,
          [dbName, APP_NAME],
        );
        return result.rows.filter((r) => r.terminated);
      });
      faults.connectionKillRounds += 1;
      faults.backendsTerminated += killed.length;
      const byApp: Record<string, number> = {};
      for (const row of killed)
        byApp[row.application_name || '?'] = (byApp[row.application_name || '?'] ?? 0) + 1;
      note(`pg_terminate_backend: ${killed.length} connections ${JSON.stringify(byApp)}`);
    };
    const compensationKill = async () => {
      const activities = ['releaseStock', 'cancelShipment', 'refundDebit'];
      const armedAt = Date.now();
      const ids = (
        await pool!.query<{ id: number }>(
          `INSERT INTO fault_injections (activity, mode) SELECT unnest($1::text[]), 'fail' RETURNING id`,
          [activities],
        )
      ).rows.map((r) => r.id);
      note(`armed 'fail' on compensations ${activities.join(', ')}`);
      const fired = async () =>
        Number(
          (
            await pool!.query<{ n: string }>(
              'SELECT coalesce(sum(fired), 0) AS n FROM fault_injections WHERE id = ANY($1)',
              [ids],
            )
          ).rows[0]!.n,
        );
      const budget = options.compensationFaultMs;
      await waitFor(
        'a compensation to fail',
        budget * 0.6,
        async () => (await fired()) >= 2,
        false,
      );
      let compensating = 0;
      try {
        compensating = (
          await temporal.workflow.count(
            `TaskQueue = "${taskQueue}" AND SagaStatus = "COMPENSATING" AND ExecutionStatus = "Running"`,
          )
        ).count;
      } catch {
        // visibility may not support the query; the fired count still tells
      }
      faults.sagasCompensatingAtKill = compensating;
      await killWorker(
        `mid-compensation (${await fired()} compensation attempts failed so far, ${compensating} sagas COMPENSATING)`,
      );
      faults.compensationKills += 1;
      const remaining = budget - (Date.now() - armedAt);
      if (remaining > 0) await sleep(remaining);
      faults.compensationFaultsFired += await fired();
      await pool!.query('DELETE FROM fault_injections WHERE id = ANY($1)', [ids]);
      note(
        `removed compensation faults (${faults.compensationFaultsFired} failed attempts in total)`,
      );
    };

    type Action = { at: number; name: string; run: () => Promise<void> };
    const actions: Action[] = [];
    const firstZombies = Math.ceil(options.zombies / 2);
    if (options.zombies - firstZombies > 0)
      actions.push({
        at: 0.5,
        name: 'zombies',
        run: () => armZombies(options.zombies - firstZombies),
      });
    const compensationSlot =
      options.compensationKill && options.workerKills > 0
        ? Math.floor((options.workerKills - 1) / 2)
        : -1;
    for (let j = 0; j < options.workerKills; j++) {
      const at = ((j + 1) / (options.workerKills + 1)) * 0.9;
      actions.push(
        j === compensationSlot
          ? { at, name: 'compensation kill', run: compensationKill }
          : {
              at,
              name: 'worker kill',
              run: () =>
                killWorker(`at ${Math.round((submitted / options.sagas) * 100)}% submitted`),
            },
      );
    }
    for (let j = 0; j < options.connectionKills; j++) {
      actions.push({
        at: ((j + 0.6) / options.connectionKills) * 0.85,
        name: 'connection kill',
        run: terminateConnections,
      });
    }
    actions.sort((a, b) => a.at - b.at);

    // --- Drive -------------------------------------------------------------------------
    if (firstZombies > 0) await armZombies(firstZombies);
    let driving = true;
    const chaos = (async () => {
      for (const action of actions) {
        while (driving && submitted / options.sagas < action.at) await sleep(200);
        await action
          .run()
          .catch((error: unknown) => note(`${action.name} failed: ${String(error)}`));
      }
    })();
    const approvals = { approved: 0 };
    const approver = (async () => {
      const approved = new Set<string>();
      while (!shuttingDown) {
        const pending = sagas.filter(
          (s) => s.big && !approved.has(s.id) && !isTerminal(s.kind, s.finalStatus),
        );
        for (const saga of pending) {
          const state = await sagaState(temporal, saga.sagaId).catch(() => undefined);
          if (state?.searchStatus === 'AWAITING_APPROVAL') {
            await http.post(`/orders/${saga.id}/approve`, { approvedBy: 'chaos' }).then(
              () => {
                approved.add(saga.id);
                approvals.approved += 1;
              },
              (error: unknown) => note(`approve ${saga.id}: ${String(error)}`),
            );
          } else if (state && state.closed) approved.add(saga.id);
        }
        await sleep(1_500);
      }
    })();
    await mapLimit(items, options.concurrency, submit);
    driving = false;
    note(
      `all ${items.length} sagas submitted (${sagas.length} accepted); waiting for remaining fault actions`,
    );
    await chaos;
    const zombieRows = await pool.query<{ fired: string }>(
      "SELECT coalesce(sum(fired), 0) AS fired FROM fault_injections WHERE mode = 'delay_before_effect'",
    );
    faults.zombiesFired = Number(zombieRows.rows[0]!.fired);
    await pool.query('DELETE FROM fault_injections');
    note(`removed every fault (${faults.zombiesFired} zombie attempts fired)`);
    for (const w of workers) if (!w.running) w.start();
    endPhase('drive');

    // Late duplicates: replay a sample of keys once the first answers are stored.
    const lateSample = items
      .filter((i) => sagaByKey.has(i.key))
      .filter(() => rnd.chance(0.05))
      .slice(0, 20);
    await mapLimit(lateSample, 4, async (item) => {
      const res = await http
        .post<{ orderId?: string; transferId?: string; sagaId: string }>(
          item.path,
          item.body,
          item.key,
        )
        .catch(() => undefined);
      dupStats.lateReplays += 1;
      const rec = sagaByKey.get(item.key)!;
      if (
        !res ||
        (res.body.orderId ?? res.body.transferId) !== rec.id ||
        res.body.sagaId !== rec.sagaId
      )
        dupStats.lateMismatched += 1;
    });

    // --- Settle ------------------------------------------------------------------------
    const settleDeadline = Date.now() + options.settleTimeoutMs;
    for (let round = 0; ; round++) {
      const open = sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
      await mapLimit(open, 8, async (saga) => {
        const state = await sagaState(temporal, saga.sagaId).catch(() => undefined);
        if (!state) return;
        if (state.closed) {
          saga.finalStatus = state.result?.status ?? `WORKFLOW_${state.executionStatus}`;
          saga.finalReason = state.result?.reason ?? null;
        } else if (state.searchStatus === 'COMPENSATION_FAILED') {
          saga.finalStatus = 'COMPENSATION_FAILED';
        }
      });
      const stillOpen = sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
      if (round % 5 === 0 || stillOpen.length === 0)
        note(`settle: ${sagas.length - stillOpen.length}/${sagas.length} sagas terminal`);
      if (stillOpen.length === 0) break;
      if (Date.now() > settleDeadline) {
        note(`settle timeout: ${stillOpen.length} sagas still running`);
        break;
      }
      await sleep(2_000);
    }
    endPhase('settle');

    // Projections catch up: every checkpoint at the head, read-model statuses = Temporal's.
    await waitFor(
      'projections to catch up',
      120_000,
      async () => {
        const head = Number(
          (await pool!.query<{ h: string | null }>('SELECT max(global_position) AS h FROM events'))
            .rows[0]!.h ?? 0,
        );
        const behind = Number(
          (
            await pool!.query<{ n: string }>(
              'SELECT count(*) AS n FROM projection_checkpoints WHERE position < $1',
              [head],
            )
          ).rows[0]!.n,
        );
        if (behind > 0) return false;
        const rows = await pool!.query<{ id: string; status: string }>(
          'SELECT order_id AS id, status FROM order_summary UNION ALL SELECT transfer_id, status FROM transfer_summary',
        );
        const status = new Map(rows.rows.map((r) => [r.id, r.status]));
        return sagas.every((s) => status.get(s.id) === s.finalStatus);
      },
      false,
    );
    const workflowCount = (await temporal.workflow.count(`TaskQueue = "${taskQueue}"`)).count;

    shuttingDown = true;
    await approver;
    await Promise.all(processes.map((p) => p.stop()));
    note('stopped every process');
    endPhase('catch-up');

    // --- Invariants ----------------------------------------------------------------------
    const result = await checkInvariants({
      pool,
      store,
      sagas,
      depositsSent,
      restockedSent,
      distinctKeys: sagas.length + dupStats.submitFailures,
      temporalWorkflowCount: workflowCount,
      merchantAccountId: MERCHANT,
    });
    report.checks = result.checks;
    report.checks.push({
      name: 'duplicate requests converge on one saga',
      ok:
        dupStats.mismatched === 0 &&
        dupStats.lateMismatched === 0 &&
        dupStats.failedCopies === 0 &&
        dupStats.submitFailures === 0,
      detail: `${dupStats.keysDuplicated} keys sent concurrently ${dupStats.extraRequests} extra times: ${dupStats.mismatched} mismatched, ${dupStats.failedCopies} copies failed; ${dupStats.lateReplays} late replays, ${dupStats.lateMismatched} mismatched; ${dupStats.submitFailures} keys never accepted`,
    });
    report.checks.push({
      name: 'no process died on its own',
      ok: report.unexpectedExits.length === 0,
      detail: `${report.unexpectedExits.length} unexpected exits${report.unexpectedExits.length ? ` e.g. ${JSON.stringify(report.unexpectedExits.slice(0, 3))}` : ''}`,
    });
    report.figures = {
      'sagas requested': options.sagas,
      'orders accepted': sagas.filter((s) => s.kind === 'order').length,
      'transfers accepted': sagas.filter((s) => s.kind === 'transfer').length,
      'big orders approved': approvals.approved,
      'keys sent concurrently (duplicates)': dupStats.keysDuplicated,
      'extra duplicate requests': dupStats.extraRequests,
      'late duplicate replays': dupStats.lateReplays,
      ...result.figures,
    };
    report.faults = { ...faults, unexpectedExits: report.unexpectedExits.length };
    endPhase('checks');
    report.ok = report.checks.every((c) => c.ok);
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    note(`harness error: ${report.error}`);
    report.ok = false;
  } finally {
    shuttingDown = true;
    await Promise.all(processes.map((p) => p.stop(5_000).catch(() => undefined)));
    await pool?.end().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await devServer?.stop().catch(() => undefined);
    if (dbCreated && !options.keepDatabase) {
      await withAdmin(options.databaseUrl, (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`),
      ).catch((error: unknown) => note(`could not drop ${dbName}: ${String(error)}`));
    }
    report.durationSeconds = elapsed();
  }
  return report;
}

async function withAdmin<T>(serverUrl: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: serverUrl, application_name: APP_NAME });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  mustSucceed = true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return true;
    } catch {
      // keep probing
    }
    if (Date.now() > deadline) {
      if (mustSucceed) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      return false;
    }
    await sleep(500);
  }
}

/** Waits until Temporal lists a poller whose identity is this worker process (`pid@host`). */
async function waitForPoller(
  connection: Connection,
  taskQueue: string,
  worker: ManagedProcess,
  timeoutMs: number,
) {
  await waitFor(`${worker.name} to poll`, timeoutMs, async () => {
    const response = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // WORKFLOW
    });
    return (response.pollers ?? []).some((p) => p.identity?.startsWith(`${worker.pid}@`));
  });
}

interface SagaState {
  closed: boolean;
  executionStatus: string;
  searchStatus: string | undefined;
  result?: SagaResult;
}

async function sagaState(client: TemporalClient, sagaId: string): Promise<SagaState> {
  const handle = client.workflow.getHandle(sagaId);
  const description = await handle.describe();
  const searchStatus = description.typedSearchAttributes.get(SAGA_STATUS);
  const executionStatus = description.status.name;
  if (executionStatus === 'RUNNING') return { closed: false, executionStatus, searchStatus };
  if (executionStatus === 'COMPLETED') {
    return {
      closed: true,
      executionStatus,
      searchStatus,
      result: (await handle.result()) as SagaResult,
    };
  }
  return { closed: true, executionStatus, searchStatus };
}

export { HttpError };
