/**
 * `npm run start:api`: the HTTP API. Reads the configuration, connects Postgres, the event
 * store and Temporal, listens, and shuts down gracefully on SIGTERM/SIGINT.
 */
import { CommandHandler, commandHandlerSettings } from '../application/commandHandler';
import { ConfigError, loadConfig, type Config } from '../config';
import { connectionLimits } from '../eventstore/pool';
import { createPool } from '../eventstore';
import { createEventStore } from '../application/eventStore';
import { createReadSide } from '../infra/readReplica';
import { untilShutdownSignal } from '../infra/shutdownSignal';
import { createLogger } from '../logger';
import { Metrics } from '../observability/metrics';
import {
  ALL_PROJECTIONS,
  createInlineProjector,
  getCatchUpHoldback,
  getProjectionStatuses,
  countSagasByStatus,
} from '../projections';
import { connectClient } from '../temporal/connection';
import { buildApp } from './app';
import { projectionReadModels } from './projectionReadModels';

function requireSettings(config: Config): { databaseUrl: string; temporalAddress: string } {
  const missing = [
    !config.DATABASE_URL && 'DATABASE_URL (e.g. postgres://user@127.0.0.1:5432/sagaflow)',
    !config.TEMPORAL_ADDRESS && 'TEMPORAL_ADDRESS (e.g. 127.0.0.1:7233)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigError(`The API needs these settings:\n  ${missing.join('\n  ')}`);
  }
  return { databaseUrl: config.DATABASE_URL!, temporalAddress: config.TEMPORAL_ADDRESS! };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { databaseUrl, temporalAddress } = requireSettings(config);

  const pool = createPool(databaseUrl, {
    max: config.PG_POOL_MAX,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    applicationName: 'sagaflow-api',
  });
  const reads = createReadSide(config, pool, {
    log: createLogger(config.LOG_LEVEL).child({ component: 'reads' }),
    applicationName: 'sagaflow-api',
  });
  const metrics = new Metrics({
    replica: reads.replica,
    projectionStatuses: () => getProjectionStatuses(pool),
    readerHoldback: () => getCatchUpHoldback(pool),
    sagaCounts: () => countSagasByStatus(pool),
    ...(config.SDK_METRICS_URL && { sdkMetricsUrl: config.SDK_METRICS_URL }),
  });
  const eventStore = createEventStore(pool, { hooks: metrics.eventStoreHooks() });
  const temporal = await connectClient({
    address: temporalAddress,
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const commands = new CommandHandler(eventStore, {
    ...commandHandlerSettings(config),
    // Reads see a command's writes at once; the projector process repairs any miss.
    afterAppend: createInlineProjector(pool, ALL_PROJECTIONS),
  });

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
  // Slow clients may not hold sockets forever; keep-alive shorter than typical LB idle timeouts.
  app.server.requestTimeout = 30_000;
  app.server.headersTimeout = 10_000;
  app.server.keepAliveTimeout = 5_000;

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('graceful shutdown timed out');
      process.exit(1);
    }, 15_000);
    force.unref();
    void (async () => {
      try {
        await app.close();
        await temporal.close();
        await reads.close();
        await pool.end();
        process.exit(0);
      } catch (error) {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      }
    })();
  };
  void untilShutdownSignal().then(shutdown);

  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `sagaflow-api failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
