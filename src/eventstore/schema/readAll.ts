import { named, type SqlExecutor } from './executor';
import { EVENT_COLUMNS, type EventRow } from './eventRow';

/**
 * Events after a global position, in an order a catch-up reader can trust.
 *
 * A bigserial position becomes visible in commit order, not in position order: a reader
 * that checkpointed position 10 while position 9's transaction was still running would
 * skip 9 forever. So we only hand out rows whose transaction is finished (below the xmin
 * of the current snapshot: no row with a smaller transaction id can ever appear again),
 * in (transaction_id, global_position) order. The caller's checkpoint stays a single
 * global position: we look up the transaction id of that row and continue after the pair.
 * Rows are never deleted, so the lookup always succeeds for a position we handed out.
 */
export async function readAllRows(
  db: SqlExecutor,
  after: bigint,
  limit: number,
  eventTypes?: readonly string[],
): Promise<{ rows: EventRow[]; scannedTo: bigint }> {
  // Two steps so a filter on event types still advances the checkpoint past skipped rows.
  const result = await db.query<EventRow & { matches: boolean }>(
    named(
      'sagaflow_read_all',
      `WITH checkpoint AS (
       SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
     )
     SELECT ${EVENT_COLUMNS}, ($3::text[] IS NULL OR event_type = ANY($3)) AS matches
       FROM events, checkpoint
      WHERE (transaction_id, global_position) > (checkpoint.tx, $1::bigint)
        AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY transaction_id, global_position
      LIMIT $2`,
      [after.toString(), limit, eventTypes ?? null],
    ),
  );
  const last = result.rows[result.rows.length - 1];
  return {
    rows: result.rows.filter((row) => row.matches),
    scannedTo: last ? BigInt(last.global_position) : after,
  };
}
