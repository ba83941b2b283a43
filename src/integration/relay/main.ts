/**
 * `npm run start:relay`: the outbox relay on its own, until SIGTERM or SIGINT. Needs
 * DATABASE_URL and NATS_URL. Several may run: one owns the relay, the others take over when
 * it dies.
 */
import { createEventStore } from '../../application/eventStore';
import { ConfigError, loadConfig } from '../../config';
import { createPool } from '../../eventstore';
import { connectionLimits } from '../../eventstore/pool';
import { untilShutdownSignal } from '../../infra/shutdownSignal';
import { createLogger } from '../../logger';
import { startRelay } from '../runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new ConfigError('DATABASE_URL is required for the relay');
  if (!config.NATS_URL)
    throw new ConfigError('NATS_URL is required for the relay, e.g. nats://127.0.0.1:4222');
  const logger = createLogger(config.LOG_LEVEL).child({ component: 'relay' });
  const pool = createPool(config.DATABASE_URL, {
    max: 4,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    applicationName: 'sagaflow-relay',
  });
  const running = await startRelay({
    config,
    pool,
    eventStore: createEventStore(pool),
    natsUrl: config.NATS_URL,
    log: (message, error) => logger.info({ err: error }, message),
  });
  logger.info('relay running; SIGTERM or SIGINT to stop');
  await untilShutdownSignal();
  await running.stop();
  await pool.end();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
