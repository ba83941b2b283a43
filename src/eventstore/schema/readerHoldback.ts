import type { ReaderHoldback } from '../types';
import type { SqlExecutor } from './executor';

/** Committed events that catch-up readers cannot see yet, and who holds them back. */
export async function readReaderHoldback(db: SqlExecutor): Promise<ReaderHoldback> {
  const result = await db.query<{ held_back: string; oldest_age: number | null }>(
    `SELECT
       (SELECT count(*) FROM events
         WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) AS held_back,
       (SELECT extract(epoch FROM now() - min(xact_start))::float8 FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()) AS oldest_age`,
  );
  const row = result.rows[0];
  return {
    heldBackEvents: Number(row?.held_back ?? 0),
    oldestTransactionAgeSeconds: row?.oldest_age != null ? Math.max(0, row.oldest_age) : 0,
  };
}
