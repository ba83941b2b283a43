import type { ReadStreamOptions } from '../types';
import { named, type SqlExecutor } from './executor';
import { EVENT_COLUMNS, type EventRow } from './eventRow';

/**
 * A stream's events in version order, optionally bounded by version or by time.
 * `at` is compared at millisecond precision (a JS Date's), so passing an event's own
 * createdAt includes that event although Postgres stored microseconds.
 */
export async function readStreamRows(
  db: SqlExecutor,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<EventRow[]> {
  const result = await db.query<EventRow>(
    named(
      'sagaflow_read_stream',
      `SELECT ${EVENT_COLUMNS} FROM all_events
      WHERE stream_id = $1
        AND version >= $2
        AND ($3::int IS NULL OR version <= $3)
        AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz + interval '1 millisecond')
      ORDER BY version`,
      [streamId, options.fromVersion ?? 1, options.toVersion ?? null, options.at ?? null],
    ),
  );
  return result.rows;
}
