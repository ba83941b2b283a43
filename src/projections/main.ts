/**
 * `npm run start:projector`: runs the catch-up runners of every projection until SIGTERM or
 * SIGINT. Several projectors may run at once; each projection has one owner at a time.
 */
import { ConfigError, loadConfig } from '../config';
import { connectionLimits } from '../eventstore/pool';
import { createPool } from '../eventstore';
import { untilShutdownSignal } from '../infra/shutdownSignal';
import { ProjectionRunner } from './runner';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL is required for the projector, e.g. postgres://postgres@127.0.0.1:5432/sagaflow',
    );
  }
  const pool = createPool(config.DATABASE_URL, {
    max: config.PG_POOL_MAX,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    applicationName: 'sagaflow-projector',
  });
  const log = (message: string, error?: unknown) => {
    if (config.LOG_LEVEL === 'silent') return;
    const detail =
      error instanceof Error ? error.message : error === undefined ? '' : JSON.stringify(error);
    const suffix = detail && !message.includes(detail) ? `: ${detail}` : '';
    console.error(`${new Date().toISOString()} ${message}${suffix}`);
  };
  const runner = new ProjectionRunner({
    pool,
    log,
    failureRetryMaxMs: config.PROJECTION_RETRY_MAX_MS,
  });
  await runner.start();
  log('projector running; SIGTERM or SIGINT to stop');
  await untilShutdownSignal();
  log('projector stopping');
  await runner.stop();
  await pool.end();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
