import type { Snapshot } from '../types';
import { EVENT_COLUMNS, type EventRow } from './eventRow';
import { named, type SqlExecutor } from './executor';

type Row = EventRow & { is_snapshot: boolean; state_schema_version: number | null };

/**
 * A stream's newest snapshot of the given state schema (a stale one is ignored) and the
 * events after it, in one round trip: loading a snapshotted aggregate is a saga step's
 * first query, and each round trip costs the step more than the rows it reads. The archive
 * is only searched when the hot table has no tail (see readStream.ts).
 */
export async function readSnapshotAndTailRows(
  db: SqlExecutor,
  streamId: string,
  stateSchemaVersion: number,
): Promise<{ snapshot: Snapshot | undefined; tail: EventRow[] }> {
  const result = await db.query<Row>(
    named(
      'sagaflow_read_snapshot_and_tail',
      `WITH snapshot AS (
       SELECT stream_type, version, state_schema_version, state FROM snapshots
        WHERE stream_id = $1 AND state_schema_version = $2
     ),
     hot AS (
       SELECT false AS is_snapshot, ${EVENT_COLUMNS}, NULL::int AS state_schema_version FROM events
        WHERE stream_id = $1 AND version > coalesce((SELECT version FROM snapshot), 0)
     )
     SELECT true AS is_snapshot, NULL::bigint AS global_position, $1 AS stream_id, stream_type,
            version, NULL::uuid AS event_id, NULL::text AS event_type, NULL::int AS schema_version,
            state AS data, NULL::jsonb AS metadata, NULL::xid8 AS transaction_id,
            NULL::timestamptz AS created_at, state_schema_version
       FROM snapshot
     UNION ALL
     SELECT * FROM hot
     UNION ALL
     SELECT false, ${EVENT_COLUMNS}, NULL FROM events_archive
      WHERE NOT EXISTS (SELECT 1 FROM hot)
        AND stream_id = $1 AND version > coalesce((SELECT version FROM snapshot), 0)
     ORDER BY version`,
      [streamId, stateSchemaVersion],
    ),
  );
  const [first, ...rest] = result.rows;
  if (!first?.is_snapshot) return { snapshot: undefined, tail: result.rows };
  return {
    snapshot: {
      streamId,
      streamType: first.stream_type,
      version: first.version,
      stateSchemaVersion: first.state_schema_version ?? stateSchemaVersion,
      state: first.data,
    },
    tail: rest,
  };
}
