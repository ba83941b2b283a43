/**
 * `npm start`: the whole system in one process on embedded defaults. Postgres (embedded
 * unless DATABASE_URL), the Temporal dev server with its Web UI and the saga search
 * attributes (unless TEMPORAL_ADDRESS), migrations, the saga worker, the projection runner
 * and the HTTP API. Ctrl-C stops all of it cleanly. Production runs the parts separately:
 * start:api, start:worker, start:projector.
 */
import path from 'node:path';
import { buildApp } from './api/app';
import { projectionReadModels } from './api/projectionReadModels';
import { CommandHandler, commandHandlerSettings } from './application/commandHandler';
import { ConfigError, loadConfig } from './config';
import { connectionLimits } from './eventstore/pool';
import { createPool, migrate } from './eventstore';
import { createEventStore } from './application/eventStore';
import { startEmbeddedPostgres } from './infra/embeddedPostgres';
import { createReadSide } from './infra/readReplica';
import { untilShutdownSignal } from './infra/shutdownSignal';
import { startTemporalDevServer } from './infra/temporalDevServer';
import { createLogger } from './logger';
import { Metrics } from './observability/metrics';
import {
  ALL_PROJECTIONS,
  createInlineProjector,
  getCatchUpHoldback,
  getProjectionStatuses,
  countSagasByStatus,
  ProjectionRunner,
} from './projections';
import { connectClient } from './temporal/connection';
import { installTemporalRuntime } from './worker/runtime';
import { startSagaWorker } from './worker/startWorker';

async function main(): Promise<void> {
  const loaded = loadConfig();
  const logger = createLogger(loaded.LOG_LEVEL);
  const stops: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const stopAll = async () => {
    for (const { name, stop } of stops.reverse()) {
      await stop().catch((error: unknown) =>
        logger.warn({ err: error }, `stopping ${name} failed`),
      );
    }
  };

  try {
    let databaseUrl = loaded.DATABASE_URL;
    if (!databaseUrl) {
      logger.info({ dataDir: loaded.EMBEDDED_PG_DIR }, 'starting embedded PostgreSQL');
      const postgres = await startEmbeddedPostgres({
        dataDir: loaded.EMBEDDED_PG_DIR,
        port: loaded.EMBEDDED_PG_PORT,
      });
      stops.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
      databaseUrl = postgres.databaseUrl;
    }
    await migrate(databaseUrl);

    // Before anything touches the SDK (the dev server launcher does): logs and SDK metrics.
    installTemporalRuntime({
      logLevel: loaded.LOG_LEVEL === 'info' ? 'warn' : loaded.LOG_LEVEL,
      metricsPort: loaded.METRICS_PORT,
    });
    let temporalAddress = loaded.TEMPORAL_ADDRESS;
    let temporalUiUrl = loaded.TEMPORAL_UI_URL;
    if (!temporalAddress) {
      logger.info('starting the Temporal dev server');
      const dev = await startTemporalDevServer({
        cliPath: loaded.TEMPORAL_CLI_PATH,
        port: loaded.TEMPORAL_DEV_PORT,
        uiPort: loaded.TEMPORAL_UI_PORT,
        dbFilename: path.resolve('.data', 'temporal.db'),
        namespace: loaded.TEMPORAL_NAMESPACE,
      });
      stops.push({ name: 'Temporal dev server', stop: () => dev.stop() });
      temporalAddress = dev.address;
      temporalUiUrl ??= dev.uiUrl;
    }
    const config = {
      ...loaded,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_UI_URL: temporalUiUrl,
    };

    const pool = createPool(databaseUrl, {
      max: config.PG_POOL_MAX * 2,
      idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      ...connectionLimits(config),
      applicationName: 'sagaflow',
    });
    stops.push({ name: 'connection pool', stop: () => pool.end() });
    const reads = createReadSide(config, pool, { log: logger.child({ component: 'reads' }) });
    stops.push({ name: 'read replica pool', stop: () => reads.close() });
    const metrics = new Metrics({
      replica: reads.replica,
      projectionStatuses: () => getProjectionStatuses(pool),
      readerHoldback: () => getCatchUpHoldback(pool),
      sagaCounts: () => countSagasByStatus(pool),
      ...(config.METRICS_PORT > 0 && {
        sdkMetricsUrl: `http://127.0.0.1:${config.METRICS_PORT}/metrics`,
      }),
    });
    const eventStore = createEventStore(pool, { hooks: metrics.eventStoreHooks() });
    // Reads see a saga step's writes at once; the catch-up runner repairs anything missed.
    const inlineProjector = createInlineProjector(pool, ALL_PROJECTIONS);

    // One per process, shared by the API and the worker: the order a request places is
    // already remembered when its saga's first step runs.
    const commands = new CommandHandler(eventStore, {
      ...commandHandlerSettings(config),
      afterAppend: inlineProjector,
    });

    const worker = await startSagaWorker({
      config,
      temporalAddress,
      pool,
      eventStore,
      commands,
      logger: logger.child({ component: 'worker' }),
    });
    stops.push({ name: 'worker', stop: () => worker.shutdown() });

    const projector = new ProjectionRunner({
      pool,
      eventStore,
      failureRetryMaxMs: config.PROJECTION_RETRY_MAX_MS,
      log: (message, error) =>
        logger.child({ component: 'projector' }).info({ err: error }, message),
    });
    await projector.start();
    stops.push({ name: 'projector', stop: () => projector.stop() });

    const temporal = await connectClient({
      address: temporalAddress,
      namespace: config.TEMPORAL_NAMESPACE,
    });
    stops.push({ name: 'Temporal client', stop: () => temporal.close() });
    const app = buildApp({
      pool,
      eventStore,
      commands,
      temporal: temporal.client,
      config,
      readModels: projectionReadModels,
      reads,
      metrics,
    });
    await app.listen({ port: config.PORT, host: config.HOST });
    stops.push({ name: 'API', stop: () => app.close() });

    const api = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
    console.log(
      [
        '',
        'Sagaflow is up',
        `  API          ${api}`,
        `  OpenAPI      ${api}/docs   (JSON: ${api}/docs/json)`,
        `  Temporal UI  ${temporalUiUrl ?? '(not available: TEMPORAL_UI_URL is not set)'}`,
        `  Metrics      ${api}/metrics`,
        '',
        'Try it: npm run demo   (in another terminal)   ·   Ctrl-C stops everything',
        '',
      ].join('\n'),
    );

    await untilShutdownSignal();
    logger.info('shutting down');
    await stopAll();
    logger.info('stopped');
  } catch (error) {
    await stopAll();
    throw error;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
