import type { ReaderHolder, ReaderHoldback } from '../types';
import type { SqlExecutor } from './executor';

/**
 * Committed events that catch-up readers cannot see yet, and who holds them back.
 *
 * Readers hand out only rows of transactions below pg_snapshot_xmin(pg_current_snapshot()),
 * the oldest transaction still running ANYWHERE on the server (xids are cluster-wide): a
 * session left open in another database, by another application, holds back every reader.
 * The holder is that oldest transaction: a session (pg_stat_activity) or a prepared
 * transaction (pg_prepared_xacts). Only what any role may read is relied on: pid, database,
 * application_name and backend_xid are visible for every session; state and xact_start
 * only for the role's own sessions (or with pg_read_all_stats), else null (the age in
 * transactions, age(xid), is always there).
 */
export async function readReaderHoldback(db: SqlExecutor): Promise<ReaderHoldback> {
  const result = await db.query<{
    held_back: string;
    xid: string | null;
    xid_age: number | null;
    pid: number | null;
    database: string | null;
    application_name: string | null;
    state: string | null;
    age_seconds: number | null;
    prepared: string | null;
  }>(
    `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
     holders AS (
       SELECT backend_xid AS xid, pid, datname AS database, application_name, state,
              extract(epoch FROM now() - xact_start)::float8 AS age_seconds, NULL::text AS prepared
         FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
       UNION ALL
       SELECT transaction, NULL, database, NULL, 'prepared',
              extract(epoch FROM now() - prepared)::float8, gid
         FROM pg_prepared_xacts
     ),
     oldest AS (
       SELECT * FROM holders
        WHERE xid = (SELECT xmin FROM horizon)::xid
        ORDER BY age_seconds DESC NULLS LAST LIMIT 1
     )
     SELECT (SELECT count(*) FROM events, horizon WHERE transaction_id >= horizon.xmin) AS held_back,
            oldest.xid::text AS xid, age(oldest.xid) AS xid_age, oldest.pid, oldest.database,
            oldest.application_name, oldest.state, oldest.age_seconds, oldest.prepared
       FROM (SELECT 1) AS one LEFT JOIN oldest ON true`,
  );
  const row = result.rows[0];
  const heldBackEvents = Number(row?.held_back ?? 0);
  const holder: ReaderHolder | null =
    row?.xid != null
      ? {
          xid: row.xid,
          xidAge: Number(row.xid_age ?? 0),
          pid: row.pid,
          database: row.database,
          applicationName: row.application_name,
          state: row.state,
          ageSeconds: row.age_seconds != null ? Math.max(0, row.age_seconds) : null,
          preparedTransaction: row.prepared,
        }
      : null;
  return {
    heldBackEvents,
    oldestTransactionAgeSeconds: holder?.ageSeconds ?? 0,
    holder,
  };
}
