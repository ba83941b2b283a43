import type { ClientBase } from 'pg';
import type { SqlExecutor } from '../eventstore';
import { generationTable, type Projection } from './types';

export interface CheckpointRow {
  name: string;
  version: number;
  generation: number;
  position: bigint;
  rebuildGeneration: number | null;
  rebuildVersion: number | null;
  rebuildPosition: bigint | null;
  errorPosition: bigint | null;
  errorMessage: string | null;
  eventsPerSecond: number;
  updatedAt: Date;
}

interface RawCheckpoint {
  name: string;
  version: number;
  generation: number;
  position: string;
  rebuild_generation: number | null;
  rebuild_version: number | null;
  rebuild_position: string | null;
  error_position: string | null;
  error_message: string | null;
  events_per_second: number;
  updated_at: Date;
}

const toCheckpoint = (row: RawCheckpoint): CheckpointRow => ({
  name: row.name,
  version: row.version,
  generation: row.generation,
  position: BigInt(row.position),
  rebuildGeneration: row.rebuild_generation,
  rebuildVersion: row.rebuild_version,
  rebuildPosition: row.rebuild_position === null ? null : BigInt(row.rebuild_position),
  errorPosition: row.error_position === null ? null : BigInt(row.error_position),
  errorMessage: row.error_message,
  eventsPerSecond: row.events_per_second,
  updatedAt: row.updated_at,
});

export async function readCheckpoint(
  db: SqlExecutor,
  name: string,
  forUpdate = false,
): Promise<CheckpointRow | undefined> {
  const result = await db.query<RawCheckpoint>(
    `SELECT * FROM projection_checkpoints WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  );
  return result.rows[0] && toCheckpoint(result.rows[0]);
}

export async function readCheckpoints(db: SqlExecutor): Promise<CheckpointRow[]> {
  const result = await db.query<RawCheckpoint>(
    'SELECT * FROM projection_checkpoints ORDER BY name',
  );
  return result.rows.map(toCheckpoint);
}

/** Advisory-lock keys (session level, on a runner's dedicated connection). */
export const ownerLockKey = (name: string): string => `sagaflow-projection-owner:${name}`;
export const rebuildLockKey = (name: string): string => `sagaflow-projection-rebuild:${name}`;

export async function tryAdvisoryLock(db: SqlExecutor, key: string): Promise<boolean> {
  const result = await db.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
    [key],
  );
  return result.rows[0]?.locked === true;
}

export async function advisoryUnlock(db: SqlExecutor, key: string): Promise<void> {
  await db.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
}

/** Backend pid of the session holding an advisory lock of this database, if any. */
export async function advisoryLockHolder(db: SqlExecutor, key: string): Promise<number | null> {
  const result = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
    [key],
  );
  return result.rows[0]?.pid ?? null;
}

/** The pid of the runner connection that owns a projection (null when no runner owns it). */
export const projectionOwnerPid = (db: SqlExecutor, name: string): Promise<number | null> =>
  advisoryLockHolder(db, ownerLockKey(name));

/**
 * Makes sure a projection has its checkpoint row, its active tables and its view. Built-in
 * projections get all three from the migration; this covers new ones (and tests). Runs in
 * a transaction serialised by an advisory lock, so concurrent runners do not race on DDL.
 */
export async function ensureProjection(conn: ClientBase, projection: Projection): Promise<void> {
  await conn.query('BEGIN');
  try {
    await conn.query(
      "SELECT pg_advisory_xact_lock(hashtextextended('sagaflow-projection-ddl', 0))",
    );
    await conn.query(
      `INSERT INTO projection_checkpoints (name, version, generation) VALUES ($1, $2, 1)
       ON CONFLICT (name) DO NOTHING`,
      [projection.name, projection.version],
    );
    const checkpoint = await readCheckpoint(conn, projection.name);
    if (!checkpoint) throw new Error(`no checkpoint for projection ${projection.name}`);
    const exists = await conn.query<{ present: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [projection.name],
    );
    if (!exists.rows[0]?.present) {
      const table = generationTable(projection.name, checkpoint.generation);
      await projection.createTables(conn, table);
      await conn.query(`CREATE OR REPLACE VIEW ${projection.name} AS SELECT * FROM ${table}`);
    }
    await conn.query('COMMIT');
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
