/**
 * The chaos harness: runs the whole system as separate OS processes (API, projector, several
 * fault-injecting workers, the outbox relay and the loyalty service on a nats-server of the
 * run's own), drives orders and transfers through the HTTP API while killing workers, the
 * relay and the loyalty service, terminating Postgres connections, arming zombies and sending
 * duplicate requests, then waits for every saga to end and the bus to catch up, and checks
 * the invariants (see invariants.ts).
 *
 * This file builds the system (buildChaosSystem) and runs the phases (phases/*.ts) over it.
 */
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '../../src/config';
import { migrate } from '../../src/eventstore';
import { createLogger } from '../../src/logger';
import { createSystem, type System } from '../../src/system/createSystem';
import { startTemporalDevServer, type DevServerHandle } from '../../src/infra/temporalDevServer';
import { startNatsServer, type NatsServerHandle } from '../../src/infra/natsServer';
import { connectAndEnsureStreams } from '../../src/integration';
import { APP_NAME, withAdmin } from './admin';
import { newContext, startRun, type ChaosRun, type ChaosSystem } from './context';
import { ApiClient, HttpError } from './http';
import { MERCHANT, type ChaosOptions, type ChaosReport } from './options';
import { catchUpPhase } from './phases/catchUp';
import { checksPhase } from './phases/checks';
import { drivePhase } from './phases/drive';
import { runPhases, type ChaosPhase } from './phases/runner';
import { settlePhase } from './phases/settle';
import { startupPhase } from './phases/startup';
import { ManagedProcess, type ProcessExit } from './processes';
import { freePort } from './util';

export { DEFAULT_OPTIONS, type ChaosOptions, type ChaosReport } from './options';

/** A run, in order; each phase's time goes in the report's `phaseSeconds` under its name. */
export const CHAOS_PHASES: readonly ChaosPhase[] = [
  startupPhase,
  drivePhase,
  settlePhase,
  catchUpPhase,
  checksPhase,
];

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const run = startRun(partial);
  const { report } = run;
  let system: ChaosSystem | undefined;
  try {
    system = await buildChaosSystem(run);
    await runPhases(newContext(run, system), CHAOS_PHASES);
    report.ok = report.checks.every((c) => c.ok);
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    run.note(`harness error: ${report.error}`);
    report.ok = false;
  } finally {
    await system?.teardown();
    report.durationSeconds = run.elapsed();
  }
  return report;
}

/** What buildChaosSystem has made so far, so that a teardown undoes exactly that. */
interface Built {
  dbCreated: boolean;
  /** The harness's own view of the run's database, built as every process builds it. */
  system?: System;
  devServer?: DevServerHandle;
  connection?: Connection;
  natsServer?: NatsServerHandle;
  /** The harness's own connection to it (the checks read the stream and the consumer). */
  nats?: NatsConnection;
  processes: ManagedProcess[];
  shutdown: { requested: boolean };
}

/**
 * Builds the system under test, the one place that does: the run's database (migrated),
 * the pool and event store, Temporal (a dev server unless options.temporalAddress), a
 * nats-server with JetStream (free ports, its store in the run's folder), and the API,
 * projector, worker, relay and loyalty processes, each restarted if it dies unasked. A
 * failure tears down what was built and rethrows.
 */
export async function buildChaosSystem(run: ChaosRun): Promise<ChaosSystem> {
  const { options, note, dbName, dbUrl, report } = run;
  const built: Built = { dbCreated: false, processes: [], shutdown: { requested: false } };
  const { processes, shutdown } = built;
  try {
    await withAdmin(options.databaseUrl, (admin) => admin.query(`CREATE DATABASE ${dbName}`));
    built.dbCreated = true;
    await migrate(dbUrl);
    const system = createSystem(
      { ...loadConfig({ LOG_LEVEL: 'silent' }), DATABASE_URL: dbUrl },
      {
        applicationName: APP_NAME,
        logger: createLogger('silent', 'chaos'),
        poolMax: 6,
        inlineProjection: false,
      },
    );
    built.system = system;
    // The faults terminate backends, this pool's among them; its next query reconnects.
    system.pool.on('error', () => undefined);
    const { pool, eventStore: store } = system;

    let temporalAddress = options.temporalAddress;
    if (!temporalAddress) {
      built.devServer = await startTemporalDevServer({
        cliPath: process.env.TEMPORAL_CLI_PATH,
        port: await freePort(),
        ui: false,
      });
      temporalAddress = built.devServer.address;
      note(`started Temporal dev server at ${temporalAddress}`);
    }
    const connection = await Connection.connect({ address: temporalAddress });
    built.connection = connection;
    const temporal = new TemporalClient({ connection, namespace: 'default' });

    // Never the machine's nats-server on 4222: one of the run's own (NATS_SERVER_PATH, else
    // the first 2.10+ nats-server found), so the stream holds this run's messages only.
    const natsServer = await startNatsServer({
      executable: process.env.NATS_SERVER_PATH,
      storeDir: path.join(run.runDir, 'nats'),
      logFile: path.join(run.runDir, 'nats-server.log'),
    });
    built.natsServer = natsServer;
    note(`started nats-server ${natsServer.version} at ${natsServer.url}`);
    const nats = await connectAndEnsureStreams({ url: natsServer.url, name: 'sagaflow-chaos' });
    built.nats = nats;

    const ports = { api: await freePort(), loyalty: await freePort() };
    const env = processEnv(run, temporalAddress, natsServer.url);
    const { api, workers, relay, loyalty } = spawnProcesses(run, built, env, ports);
    const http = new ApiClient(`http://127.0.0.1:${ports.api}`);
    report.http = http.stats;
    return {
      pool,
      store,
      connection,
      temporal,
      nats,
      http,
      api,
      workers,
      relay,
      loyalty,
      processes,
      shutdown,
      teardown: () => tearDown(run, built),
    };
  } catch (error) {
    await tearDown(run, built);
    throw error;
  }
}

/**
 * Starts the API, the projector, the workers, the relay and the loyalty service as child
 * processes. One that exits unasked (not killed by a fault, not stopping) is recorded as an
 * unexpected exit and restarted.
 */
function spawnProcesses(
  run: ChaosRun,
  built: Built,
  baseEnv: NodeJS.ProcessEnv,
  ports: { api: number; loyalty: number },
) {
  const { options, note, runDir, report } = run;
  const { processes, shutdown } = built;
  const onExit = (exit: ProcessExit) => {
    if (exit.expected || shutdown.requested) return;
    report.unexpectedExits.push(exit);
    note(
      `UNEXPECTED exit of ${exit.name} (pid ${exit.pid}, code ${exit.code}, signal ${exit.signal}); restarting`,
    );
    const proc = processes.find((p) => p.name === exit.name);
    setTimeout(() => {
      if (!shutdown.requested) proc?.start();
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
    PORT: String(ports.api),
    HOST: '127.0.0.1',
  });
  spawnProc('projector', 'src/projections/main.ts', baseEnv);
  const workers = Array.from({ length: options.workers }, (_, i) =>
    spawnProc(`worker-${i + 1}`, 'src/worker/main.ts', {
      ...baseEnv,
      FAULT_INJECTION: 'enabled',
    }),
  );
  const relay = spawnProc('relay', 'src/integration/relay/main.ts', baseEnv);
  // Its own schema (`loyalty`) in the run's database: it never reads the events table.
  const loyalty = spawnProc('loyalty', 'src/services/loyalty/main.ts', {
    ...baseEnv,
    LOYALTY_DATABASE_URL: run.dbUrl,
    LOYALTY_PORT: String(ports.loyalty),
    LOYALTY_HOST: '127.0.0.1',
    // A killed consumer's unacked messages come back this soon, not after the 30 s default.
    LOYALTY_ACK_WAIT_MS: '2000',
    LOYALTY_RETRY_DELAY_MS: '500',
  });
  note(
    `spawned api (pid ${api.pid}, port ${ports.api}), projector, ${workers.length} workers, relay, loyalty (port ${ports.loyalty}); logs in ${runDir}`,
  );
  return { api, workers, relay, loyalty };
}

/** The environment every process of the run starts with (the API adds its port). */
function processEnv(run: ChaosRun, temporalAddress: string, natsUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: run.dbUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: run.taskQueue,
    NATS_URL: natsUrl,
    ACTIVITY_START_TO_CLOSE: run.options.activityStartToClose,
    ACTIVITY_MAX_ATTEMPTS: '10',
    COMPENSATION_MAX_ATTEMPTS: '20',
    APPROVAL_THRESHOLD: String(run.options.approvalThreshold),
    MERCHANT_ACCOUNT_ID: MERCHANT,
    UNSERVED_COUNTRIES: 'KP,IR,SY,CU',
    LOG_LEVEL: 'warn',
    METRICS_PORT: '0',
    API_KEYS: '',
    PG_POOL_MAX: '8',
    // No carrier runs in a chaos run: orders complete at dispatch, as before the delivery
    // confirmation (the relay still publishes shipment.dispatched.v1; nobody answers it).
    DELIVERY_CONFIRMATION: 'none',
  };
}

/** Undoes what buildChaosSystem made, processes first, the database last. */
async function tearDown(run: ChaosRun, built: Built): Promise<void> {
  built.shutdown.requested = true;
  await Promise.all(built.processes.map((p) => p.stop(5_000).catch(() => undefined)));
  await built.system?.close().catch(() => undefined);
  await built.connection?.close().catch(() => undefined);
  await built.nats?.close().catch(() => undefined);
  await built.natsServer?.stop().catch(() => undefined);
  await built.devServer?.stop().catch(() => undefined);
  if (built.dbCreated && !run.options.keepDatabase) {
    await withAdmin(run.options.databaseUrl, (admin) =>
      admin.query(`DROP DATABASE IF EXISTS ${run.dbName} WITH (FORCE)`),
    ).catch((error: unknown) => run.note(`could not drop ${run.dbName}: ${String(error)}`));
  }
}

export { HttpError };
