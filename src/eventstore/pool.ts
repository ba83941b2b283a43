import { Pool, type PoolConfig } from 'pg';

/**
 * The service's connections. An idle-in-transaction session would hold every catch-up
 * reader back (see readAll.ts), so the server kills one that lingers.
 */
export function createPool(
  connectionString: string,
  options: { max?: number; idleInTransactionTimeoutMs?: number; applicationName?: string } = {},
): Pool {
  const config: PoolConfig = {
    connectionString,
    max: options.max ?? 10,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'sagaflow',
  };
  const pool = new Pool(config);
  // An idle client that loses its connection (e.g. Postgres restarts) must not crash the process.
  pool.on('error', () => {});
  return pool;
}
