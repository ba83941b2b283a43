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
  // A connection that dies (Postgres restarts, pg_terminate_backend) must not crash the
  // process. The pool handles idle clients; a checked-out client emits 'error' on itself,
  // and pg-pool removes its own listener while the client is checked out. With a listener
  // of our own on every client, the query in flight rejects instead and the pool discards
  // the broken client when it is released.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}
