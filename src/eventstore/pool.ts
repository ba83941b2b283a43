import { Pool, type PoolConfig } from 'pg';
import type { Config } from '../config';

/** Limits that keep one stuck statement or one dead peer from holding others up (0: off). */
export interface ConnectionLimits {
  /** Server-side: a statement running longer is cancelled (SQLSTATE 57014). */
  statementTimeoutMs?: number;
  /** Server-side: a statement waiting longer for a lock fails (SQLSTATE 55P03). */
  lockTimeoutMs?: number;
  /** Client-side: a query without any answer for this long fails ("Query read timeout"). */
  queryTimeoutMs?: number;
  /**
   * TCP keepalive idle time on both ends. The client probes a silent server; the server
   * (tcp_keepalives_idle/interval/count, tcp_user_timeout) drops a vanished client within
   * about 2.5x this, which ends its session and so releases its advisory and row locks.
   */
  keepAliveIdleMs?: number;
}

export interface PoolOptions extends ConnectionLimits {
  max?: number;
  idleInTransactionTimeoutMs?: number;
  applicationName?: string;
  /** Give up on opening a connection after this long (default: wait for ever). */
  connectionTimeoutMs?: number;
}

/** The limits the service's processes take from the configuration. */
export const connectionLimits = (config: Config): Required<ConnectionLimits> => ({
  statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
  lockTimeoutMs: config.PG_LOCK_TIMEOUT_MS,
  queryTimeoutMs: config.PG_QUERY_TIMEOUT_MS,
  keepAliveIdleMs: config.PG_KEEPALIVE_IDLE_MS,
});

const DEFAULT_KEEPALIVE_IDLE_MS = 10_000;

/**
 * Server-side keepalive settings sent at connection start: idle, then 3 probes at half the
 * idle time apart, so a dead client is dropped after idle * 2.5. tcp_user_timeout covers the
 * case keepalive does not: data sent but never acknowledged.
 */
export function serverKeepAliveOptions(keepAliveIdleMs: number): string {
  const idleSeconds = Math.max(1, Math.round(keepAliveIdleMs / 1000));
  const intervalSeconds = Math.max(1, Math.round(idleSeconds / 2));
  const userTimeoutMs = (idleSeconds + 3 * intervalSeconds) * 1000;
  return [
    `-c tcp_keepalives_idle=${idleSeconds}`,
    `-c tcp_keepalives_interval=${intervalSeconds}`,
    '-c tcp_keepalives_count=3',
    `-c tcp_user_timeout=${userTimeoutMs}`,
  ].join(' ');
}

/** pg connection settings for the given limits (a statement timeout of 0 means none). */
export function connectionConfig(limits: ConnectionLimits): PoolConfig {
  const keepAliveIdleMs = limits.keepAliveIdleMs ?? DEFAULT_KEEPALIVE_IDLE_MS;
  return {
    keepAlive: true,
    keepAliveInitialDelayMillis: keepAliveIdleMs,
    options: serverKeepAliveOptions(keepAliveIdleMs),
    ...(limits.statementTimeoutMs && { statement_timeout: limits.statementTimeoutMs }),
    ...(limits.lockTimeoutMs && { lock_timeout: limits.lockTimeoutMs }),
    ...(limits.queryTimeoutMs && { query_timeout: limits.queryTimeoutMs }),
  };
}

/**
 * The service's connections. An idle-in-transaction session would hold every catch-up
 * reader back (see readAll.ts), so the server kills one that lingers. Keepalive is always
 * on; statement, lock and query timeouts only when given (the service's processes pass
 * `connectionLimits(config)`; tests and benchmarks that bulk-load leave them off).
 */
export function createPool(connectionString: string, options: PoolOptions = {}): Pool {
  const config: PoolConfig = {
    connectionString,
    max: options.max ?? 10,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'sagaflow',
    ...(options.connectionTimeoutMs && { connectionTimeoutMillis: options.connectionTimeoutMs }),
    ...connectionConfig(options),
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
