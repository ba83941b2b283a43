/**
 * The read side: where the API's queries (read models, event feeds) run.
 *
 * Without DATABASE_READ_URL that is the primary. With it, a streaming-replication standby
 * serves them, and commands, appends, projections and idempotency records stay on the
 * primary (they never go through here). While the standby is down, or is no standby any
 * more (promoted), reads fall back to the primary: each such read is counted, and the
 * switch is logged once per outage (a warning with the cause, then an info when it is back).
 *
 * Catch-up reads (readAll, the SSE head) are as sound on a standby as on the primary: a
 * standby's snapshot treats every transaction the primary still runs as running (it learns
 * them from the WAL, filling gaps in the xids it has seen), so its pg_snapshot_xmin never
 * passes a transaction that may still commit. A feed that moves between the two (a fallback
 * and back) may see an event again, never miss one: a cursor the standby has not replayed
 * yet is a gap cursor to it (see readAll.ts).
 */
import type { Pool } from 'pg';
import { createEventStore } from '../application/eventStore';
import type { Config } from '../config';
import type { EventStore } from '../eventstore';
import { connectionLimits, createPool } from '../eventstore/pool';
import type { Logger } from '../logger';

/** What a read needs: a pool for read-model queries and a store for the event feeds. */
export interface ReadSource {
  pool: Pool;
  eventStore: EventStore;
}

/** The standby as the last check saw it. */
export interface ReplicaStatus {
  /** Reachable and still a standby (in recovery). */
  ok: boolean;
  /** Why not (may name hosts: for logs and admins only). */
  error?: string;
  /** WAL the primary has written that the standby has not replayed (unknown if the primary is away). */
  lagBytes?: number;
  /** Age of the last transaction replayed, 0 when everything received is replayed. */
  lagSeconds?: number;
}

export type FallbackReason = 'replica_down' | 'replica_error';

/** The standby's health and fallbacks, for /ready and /metrics. */
export interface ReplicaMonitor {
  /** Checks the standby now (concurrent callers share one check). */
  check(): Promise<ReplicaStatus>;
  /** Reads served by the primary instead, by reason, since the start. */
  fallbacks(): ReadonlyMap<FallbackReason, number>;
}

export interface ReadSide {
  /** Runs a read on the standby, or on the primary when there is none or it is down. */
  read<T>(query: (source: ReadSource) => Promise<T>): Promise<T>;
  /** Undefined without DATABASE_READ_URL. */
  readonly replica: ReplicaMonitor | undefined;
  /** Ends the standby's pool and checks (the primary's pool is the caller's). */
  close(): Promise<void>;
}

/** Reads on the primary: the read side without a replica. */
export function primaryReadSide(primary: ReadSource): ReadSide {
  return {
    read: (query) => query(primary),
    replica: undefined,
    close: () => Promise.resolve(),
  };
}

/**
 * The process's read side from the configuration: a pool of its own on DATABASE_READ_URL
 * (same size and limits as the primary's) when set, else the primary. The one place the
 * read pool is built (the composition root calls it once per process that serves reads).
 */
export function createReadSide(
  config: Config,
  primaryPool: Pool,
  options: { log: Pick<Logger, 'warn' | 'info'>; applicationName?: string },
): ReadSide {
  // Reads never append, so the primary's read store needs no append hooks (metrics).
  const primary = { pool: primaryPool, eventStore: createEventStore(primaryPool) };
  if (!config.DATABASE_READ_URL) return primaryReadSide(primary);
  const pool = createPool(config.DATABASE_READ_URL, {
    max: config.PG_POOL_MAX,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    // A standby that does not answer holds a read this long at most, then it falls back (a
    // busy server can take a second or two to start a backend: not an outage).
    connectionTimeoutMs: 5_000,
    applicationName: `${options.applicationName ?? 'sagaflow'}-read`,
  });
  return new ReplicaReadSide(
    primary,
    { pool, eventStore: createEventStore(pool) },
    {
      log: options.log,
      checkIntervalMs: config.REPLICA_CHECK_INTERVAL_MS,
    },
  );
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Errors that say the standby cannot serve, not that the read is wrong (which the primary
 * would answer the same): no connection (a system error, a pg connection message), a
 * connection or shutdown SQLSTATE (08, 57P), too many connections (53), or a query
 * cancelled by a conflict with recovery (40001 on a standby).
 */
export function isReplicaUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && SQLSTATE.test(code)) {
    return /^(08|57P|53)/.test(code) || code === '40001';
  }
  if (typeof code === 'string' && 'syscall' in error) return true;
  return /connection terminated|timeout exceeded when trying to connect|query read timeout|not queryable/i.test(
    error.message,
  );
}

export class ReplicaReadSide implements ReadSide, ReplicaMonitor {
  /** Optimistic at start: a down standby fails fast (refused) and the read falls back. */
  private healthy = true;
  private readonly counts = new Map<FallbackReason, number>();
  private pending: Promise<ReplicaStatus> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly primary: ReadSource,
    private readonly standby: ReadSource,
    private readonly options: { log: Pick<Logger, 'warn' | 'info'>; checkIntervalMs: number },
  ) {
    this.timer = setInterval(() => void this.check(), options.checkIntervalMs);
    this.timer.unref();
    void this.check();
  }

  get replica(): ReplicaMonitor {
    return this;
  }

  async read<T>(query: (source: ReadSource) => Promise<T>): Promise<T> {
    if (!this.healthy) {
      this.countFallback('replica_down');
      return query(this.primary);
    }
    try {
      return await query(this.standby);
    } catch (error) {
      if (!isReplicaUnavailable(error)) throw error;
      this.markDown(error);
      this.countFallback('replica_error');
      return query(this.primary);
    }
  }

  check(): Promise<ReplicaStatus> {
    this.pending ??= this.measure().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  fallbacks(): ReadonlyMap<FallbackReason, number> {
    return this.counts;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.pending?.catch(() => undefined);
    await this.standby.pool.end();
  }

  /**
   * Seconds: the standby's own figure (the age of the last replayed commit while it has
   * received WAL it has not replayed, else 0), so an idle system reads 0, not the time since
   * the last write. Bytes: the primary's WAL position minus the standby's replay position.
   */
  private async measure(): Promise<ReplicaStatus> {
    let replayLsn: string;
    let lagSeconds: number;
    try {
      const result = await this.standby.pool.query<{
        in_recovery: boolean;
        replay_lsn: string | null;
        lag_seconds: number | null;
      }>(
        `SELECT pg_is_in_recovery() AS in_recovery,
                pg_last_wal_replay_lsn()::text AS replay_lsn,
                CASE WHEN pg_last_wal_receive_lsn() IS NULL
                       OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
                END AS lag_seconds`,
      );
      const row = result.rows[0];
      if (!row?.in_recovery || row.replay_lsn === null) {
        throw new Error('DATABASE_READ_URL is not a standby (pg_is_in_recovery() is false)');
      }
      replayLsn = row.replay_lsn;
      lagSeconds = Math.max(0, row.lag_seconds ?? 0);
    } catch (error) {
      this.markDown(error);
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    this.markUp();
    try {
      const result = await this.primary.pool.query<{ lag_bytes: string }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS lag_bytes',
        [replayLsn],
      );
      return { ok: true, lagSeconds, lagBytes: Math.max(0, Number(result.rows[0]?.lag_bytes)) };
    } catch {
      return { ok: true, lagSeconds };
    }
  }

  private countFallback(reason: FallbackReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  private markDown(error: unknown): void {
    if (!this.healthy) return;
    this.healthy = false;
    this.options.log.warn(
      { err: error },
      'read replica unavailable: reads fall back to the primary until it is back',
    );
  }

  private markUp(): void {
    if (this.healthy) return;
    this.healthy = true;
    this.options.log.info('read replica is back: reads go to it again');
  }
}
