import { named, type SqlExecutor } from './executor';
import { EVENT_COLUMNS, type EventRow } from './eventRow';

/**
 * SQL (CTEs `horizon` and `checkpoint`) that turns a caller's cursor, the global position in
 * `$1`, into the point of the catch-up order a reader at that cursor has reached.
 *
 * The order is (transaction_id, global_position), and only rows of transactions below the
 * snapshot's xmin are handed out (see readAllRows). A cursor that is an event's position
 * maps to that event's pair. A cursor that is no event's position (a gap left by a
 * rolled-back append, a position past the head, a checkpoint from before a restore, a
 * made-up Last-Event-ID) must not fall back to the start of the log: it maps to the latest
 * point, in catch-up order, of the events below it that readers can already see. A reader
 * that has seen every event below the cursor has passed that point, and so everything
 * before it; nothing at or below the cursor lies after it, so none of it is re-delivered.
 * An event below the cursor whose transaction is still running was seen by no one and
 * comes when it ends, as it would for any other cursor.
 */
export const CHECKPOINT_CTES = `
  horizon AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
  ),
  exact AS (
    SELECT transaction_id AS tx, global_position AS pos FROM events WHERE global_position = $1
  ),
  below AS (
    SELECT e.transaction_id AS tx, e.global_position AS pos
      FROM events e, horizon
     WHERE NOT EXISTS (SELECT 1 FROM exact)
       AND e.global_position < $1
       AND e.transaction_id < horizon.xmin
     ORDER BY e.transaction_id DESC, e.global_position DESC
     LIMIT 1
  ),
  checkpoint AS (
    SELECT tx, pos FROM exact
    UNION ALL
    SELECT tx, pos FROM below
    UNION ALL
    SELECT '0'::xid8, 0::bigint
     WHERE NOT EXISTS (SELECT 1 FROM exact) AND NOT EXISTS (SELECT 1 FROM below)
  )`;

/**
 * Events after a cursor (a global position), in an order a catch-up reader can trust.
 *
 * A bigserial position becomes visible in commit order, not in position order: a reader
 * that checkpointed position 10 while position 9's transaction was still running would
 * skip 9 forever. So we only hand out rows whose transaction is finished (below the xmin
 * of the current snapshot: no row with a smaller transaction id can ever appear again),
 * in (transaction_id, global_position) order. The caller's checkpoint stays a single
 * global position, resolved to a point of that order by CHECKPOINT_CTES: any value is
 * safe, including one that no event has.
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
      `WITH ${CHECKPOINT_CTES}
     SELECT ${EVENT_COLUMNS}, ($3::text[] IS NULL OR event_type = ANY($3)) AS matches
       FROM events, checkpoint, horizon
      WHERE (transaction_id, global_position) > (checkpoint.tx, checkpoint.pos)
        AND transaction_id < horizon.xmin
      ORDER BY transaction_id, global_position
      LIMIT $2`,
      [after.toString(), limit, eventTypes ?? null],
    ),
  );
  const last = result.rows[result.rows.length - 1];
  return {
    rows: result.rows.filter((row) => row.matches),
    // Nothing new: the cursor stays as given (a gap cursor keeps meaning "nothing at or below").
    scannedTo: last ? BigInt(last.global_position) : after,
  };
}

/**
 * The position of the last event a catch-up reader can be handed now (0 when none): it
 * changes whenever readAllRows has something new for a reader that was up to date, so a
 * live feed can wait on it instead of re-reading the log.
 */
export async function readCatchUpHead(db: SqlExecutor): Promise<bigint> {
  const result = await db.query<{ global_position: string }>(
    named(
      'sagaflow_catch_up_head',
      `SELECT global_position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id DESC, global_position DESC
        LIMIT 1`,
      [],
    ),
  );
  return BigInt(result.rows[0]?.global_position ?? '0');
}
