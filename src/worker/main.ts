/**
 * `npm run start:worker`: one saga worker process. Run as many as you need; they share
 * the task queue. Needs DATABASE_URL and TEMPORAL_ADDRESS.
 */
import { CommandHandler, commandHandlerSettings } from '../application/commandHandler';
import { loadConfig } from '../config';
import { connectionLimits } from '../eventstore/pool';
import { createPool, migrate } from '../eventstore';
import { createEventStore } from '../application/eventStore';
import { untilShutdownSignal } from '../infra/shutdownSignal';
import { createLogger } from '../logger';
import { installTemporalRuntime } from './runtime';
import { startSagaWorker } from './startWorker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  if (!config.DATABASE_URL || !config.TEMPORAL_ADDRESS) {
    throw new Error(
      'start:worker needs DATABASE_URL and TEMPORAL_ADDRESS (npm start runs everything embedded)',
    );
  }
  installTemporalRuntime({ logLevel: config.LOG_LEVEL, metricsPort: config.METRICS_PORT });
  await migrate(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, {
    max: config.PG_POOL_MAX,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    applicationName: 'sagaflow-worker',
  });
  const eventStore = createEventStore(pool);
  const worker = await startSagaWorker({
    config,
    temporalAddress: config.TEMPORAL_ADDRESS,
    pool,
    eventStore,
    commands: new CommandHandler(eventStore, commandHandlerSettings(config)),
    logger,
  });
  void untilShutdownSignal().then((signal) => {
    logger.info({ signal }, 'shutting down: finishing running activities');
    void worker.shutdown();
  });
  await worker.done;
  await pool.end();
  logger.info('worker stopped');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
