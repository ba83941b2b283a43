import { named, type SqlExecutor } from './executor';
import { EVENT_COLUMNS, type EventRow } from './eventRow';

/**
 * Catch-up reads: events after a cursor (a global position), in an order a reader can trust.
 *
 * A bigserial position becomes visible in commit order, not in position order: a reader
 * that checkpointed position 10 while position 9's transaction was still running would
 * skip 9 forever. So we only hand out rows whose transaction is finished (below the xmin
 * of the current snapshot: no row with a smaller transaction id can ever appear again),
 * in (transaction_id, global_position) order. The caller's checkpoint stays a single
 * global position, which maps to a point of that order:
 *
 * - an event's position maps to that event's pair (the common case: one statement);
 * - 0 maps to the start;
 * - any other value is no event (a gap left by a rolled-back append, head + 1, far past
 *   the head, a checkpoint from before a restore, a made-up Last-Event-ID). It must not
 *   fall back to the start of the log: it maps to the latest point, in catch-up order, of
 *   the events below it that readers can already see. A reader that has seen every event
 *   below the cursor has passed that point, and so everything before it. On top of that
 *   the page keeps only positions above the cursor, so nothing at or below it is handed out.
 */

type PageRow = EventRow & { matches: boolean };

/**
 * What a catch-up reader walks: the whole log (`all_events`: hot and archived events in one
 * order, migration 1700000001200), or the hot table alone for a reader that skips archived
 * streams (a read model of live data only).
 */
export type CatchUpSource = 'all_events' | 'events';

const statementName = (name: string, source: CatchUpSource) =>
  source === 'all_events' ? name : `${name}_hot`;

/**
 * One of `count` disjoint parts of the log, by a stable hash of the stream id (hashtextextended
 * is what hash partitioning relies on, so it does not change between server versions): all
 * events of a stream fall in the same segment, so per-stream order holds within it.
 */
export interface LogSegment {
  index: number;
  count: number;
}

/** SQL: does `stream_id` fall in segment (index $i, count $c)? (both NULL: no segments). */
export const inSegmentSql = (index: string, count: string): string =>
  `(${count}::int IS NULL OR abs(hashtextextended(stream_id, 0) % ${count}::int) = ${index}::int)`;

interface Page {
  rows: EventRow[];
  scannedTo: bigint;
}

/**
 * The select list of a page: rows the filter (`matches`) leaves out still move the cursor,
 * so they are read, but their payload is not sent: a projection of a few event types scans
 * the whole log, and parsing every other event's JSON was most of its work.
 */
const pageColumns = (matches: string): string =>
  `${EVENT_COLUMNS.replace(
    'data, metadata',
    `CASE WHEN ${matches} THEN data END AS data, CASE WHEN ${matches} THEN metadata END AS metadata`,
  )}, ${matches} AS matches`;

/** The page after an event's position, or `known: false` when the cursor is no event. */
const READ_AFTER_EVENT = (source: CatchUpSource) => `
  WITH exact AS (
    SELECT transaction_id AS tx FROM ${source} WHERE global_position = $1
  ),
  page AS (
    SELECT ${pageColumns(`($3::text[] IS NULL OR event_type = ANY($3)) AND ${inSegmentSql('$4', '$5')}`)}
      FROM ${source}
     WHERE (EXISTS (SELECT 1 FROM exact) OR $1::bigint = 0)
       AND (transaction_id, global_position)
           > (coalesce((SELECT tx FROM exact), '0'::xid8), $1::bigint)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id, global_position
     LIMIT $2
  )
  SELECT (EXISTS (SELECT 1 FROM exact) OR $1::bigint = 0) AS known, page.*
    FROM (SELECT 1) AS one LEFT JOIN page ON true`;

/** The page after a point of the catch-up order, keeping only positions above `$5`. */
const READ_AFTER_POINT = (source: CatchUpSource) => `
  SELECT ${pageColumns(`($3::text[] IS NULL OR event_type = ANY($3)) AND ${inSegmentSql('$6', '$7')}`)}
    FROM ${source}
   WHERE (transaction_id, global_position) > ($4::xid8, $1::bigint)
     AND global_position > $5::bigint
     AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
   ORDER BY transaction_id, global_position
   LIMIT $2`;

/**
 * The latest catch-up point among visible events below a cursor that is no event. Not a
 * named statement on purpose: planned for its value, Postgres walks whichever is shorter,
 * the positions below the cursor or the transaction order above it (the worst case, a gap
 * in the middle of the log, took 3 ms at 200,000 events; a cursor past the head, 0.5 ms).
 */
const POINT_BELOW = (source: CatchUpSource) => `
  SELECT transaction_id AS tx, global_position AS pos
    FROM ${source}
   WHERE global_position < $1
     AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
   ORDER BY transaction_id DESC, global_position DESC
   LIMIT 1`;

export async function readAllRows(
  db: SqlExecutor,
  after: bigint,
  limit: number,
  eventTypes?: readonly string[],
  source: CatchUpSource = 'all_events',
  segment?: LogSegment,
): Promise<Page> {
  const types = eventTypes ?? null;
  const [index, count] = segment ? [segment.index, segment.count] : [null, null];
  const first = await db.query<{ known: boolean } & Partial<PageRow>>(
    named(statementName('sagaflow_read_all', source), READ_AFTER_EVENT(source), [
      after.toString(),
      limit,
      types,
      index,
      count,
    ]),
  );
  if (first.rows[0]?.known) {
    return pageOf(
      first.rows.filter((row): row is { known: boolean } & PageRow => row.global_position != null),
      after,
    );
  }
  const point = await pointBelow(db, after, source);
  const rest = await db.query<PageRow>(
    named(statementName('sagaflow_read_all_after_point', source), READ_AFTER_POINT(source), [
      point.position,
      limit,
      types,
      point.transactionId,
      point.floor,
      index,
      count,
    ]),
  );
  return pageOf(rest.rows, after);
}

/** Where a cursor stands in catch-up order: after (transactionId, position), above floor. */
export interface CatchUpPoint {
  transactionId: string;
  position: string;
  /** Only positions above it are handed out (the cursor itself when it is no event). */
  floor: string;
}

/** The point of the catch-up order a reader at this cursor has reached (see the top). */
export async function catchUpPointOf(
  db: SqlExecutor,
  after: bigint,
  source: CatchUpSource = 'all_events',
): Promise<CatchUpPoint> {
  const exact = await db.query<{ tx: string }>(
    named(
      statementName('sagaflow_cursor_event', source),
      `SELECT transaction_id AS tx FROM ${source} WHERE global_position = $1`,
      [after.toString()],
    ),
  );
  const tx = exact.rows[0]?.tx;
  if (tx !== undefined) return { transactionId: tx, position: after.toString(), floor: '0' };
  return after === 0n
    ? { transactionId: '0', position: '0', floor: '0' }
    : pointBelow(db, after, source);
}

async function pointBelow(
  db: SqlExecutor,
  after: bigint,
  source: CatchUpSource,
): Promise<CatchUpPoint> {
  const below = await db.query<{ tx: string; pos: string }>(POINT_BELOW(source), [
    after.toString(),
  ]);
  const row = below.rows[0];
  return {
    transactionId: row?.tx ?? '0',
    position: row?.pos ?? '0',
    floor: after.toString(),
  };
}

/** Two steps so a filter on event types still advances the checkpoint past skipped rows. */
function pageOf(rows: PageRow[], after: bigint): Page {
  const last = rows[rows.length - 1];
  return {
    rows: rows.filter((row) => row.matches),
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
      `SELECT global_position FROM all_events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id DESC, global_position DESC
        LIMIT 1`,
      [],
    ),
  );
  return BigInt(result.rows[0]?.global_position ?? '0');
}
