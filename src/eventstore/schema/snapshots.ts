import type { Snapshot } from '../types';
import type { SqlExecutor } from './executor';

interface SnapshotRow {
  stream_id: string;
  stream_type: string;
  version: number;
  state_schema_version: number;
  state: unknown;
}

export async function readSnapshot(
  db: SqlExecutor,
  streamId: string,
): Promise<Snapshot | undefined> {
  const result = await db.query<SnapshotRow>(
    'SELECT stream_id, stream_type, version, state_schema_version, state FROM snapshots WHERE stream_id = $1',
    [streamId],
  );
  const row = result.rows[0];
  return row
    ? {
        streamId: row.stream_id,
        streamType: row.stream_type,
        version: row.version,
        stateSchemaVersion: row.state_schema_version,
        state: row.state,
      }
    : undefined;
}

/** Keeps the newest snapshot; an older one arriving late changes nothing. */
export async function writeSnapshot(db: SqlExecutor, snapshot: Snapshot): Promise<void> {
  await db.query(
    `INSERT INTO snapshots (stream_id, stream_type, version, state_schema_version, state)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (stream_id) DO UPDATE
        SET version = EXCLUDED.version, state_schema_version = EXCLUDED.state_schema_version,
            state = EXCLUDED.state, created_at = now()
      WHERE snapshots.version < EXCLUDED.version
         OR snapshots.state_schema_version <> EXCLUDED.state_schema_version`,
    [
      snapshot.streamId,
      snapshot.streamType,
      snapshot.version,
      snapshot.stateSchemaVersion,
      JSON.stringify(snapshot.state),
    ],
  );
}
