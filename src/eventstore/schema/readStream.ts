import type { ReadStreamOptions } from '../types';
import { named, type SqlExecutor } from './executor';
import { EVENT_COLUMNS, type EventRow } from './eventRow';

const IN_RANGE = `stream_id = $1
  AND version >= $2
  AND ($3::int IS NULL OR version <= $3)
  AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz + interval '1 millisecond')`;

/**
 * A stream's events in version order, optionally bounded by version or by time.
 * `at` is compared at millisecond precision (a JS Date's), so passing an event's own
 * createdAt includes that event although Postgres stored microseconds.
 *
 * A stream's events are all hot or all archived (the archival move takes them all in one
 * transaction), so the archive is only searched when the hot table has none in range: a
 * live stream's load costs what it did before archiving (bench: archive_load_vs_live_alone).
 */
export async function readStreamRows(
  db: SqlExecutor,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<EventRow[]> {
  const result = await db.query<EventRow>(
    named(
      'sagaflow_read_stream',
      `WITH hot AS (
         SELECT ${EVENT_COLUMNS} FROM events WHERE ${IN_RANGE}
       )
       SELECT * FROM hot
       UNION ALL
       SELECT ${EVENT_COLUMNS} FROM events_archive
        WHERE NOT EXISTS (SELECT 1 FROM hot) AND ${IN_RANGE}
       ORDER BY version`,
      [streamId, options.fromVersion ?? 1, options.toVersion ?? null, options.at ?? null],
    ),
  );
  return result.rows;
}
