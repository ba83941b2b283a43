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
  /** The event the projection is stuck on (its position, id, type) and why. */
  errorPosition: bigint | null;
  errorEventId: string | null;
  errorEventType: string | null;
  errorMessage: string | null;
  /** Failed attempts in a row at errorPosition, since errorSince. */
  errorAttempts: number;
  errorSince: Date | null;
  lastErrorAt: Date | null;
  nextRetryAt: Date | null;
  /** Failed attempts ever (monotonic). */
  errorsTotal: bigint;
  eventsPerSecond: number;
  updatedAt: Date;
  /** A segment's row: the projection it belongs to, its index and the segment count. */
  segmentOf: string | null;
  segment: number | null;
  segments: number | null;
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
  error_event_id: string | null;
  error_event_type: string | null;
  error_message: string | null;
  error_attempts: number;
  error_since: Date | null;
  last_error_at: Date | null;
  next_retry_at: Date | null;
  errors_total: string;
  events_per_second: number;
  updated_at: Date;
  projection: string | null;
  segment: number | null;
  segments: number | null;
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
  errorEventId: row.error_event_id,
  errorEventType: row.error_event_type,
  errorMessage: row.error_message,
  errorAttempts: row.error_attempts,
  errorSince: row.error_since,
  lastErrorAt: row.last_error_at,
  nextRetryAt: row.next_retry_at,
  errorsTotal: BigInt(row.errors_total),
  eventsPerSecond: row.events_per_second,
  updatedAt: row.updated_at,
  segmentOf: row.projection,
  segment: row.segment,
  segments: row.segments,
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

/** The checkpoint row of segment `segment` of a projection split into segments. */
export const segmentCheckpointName = (name: string, segment: number): string =>
  `${name}#${segment}`;

/** The segment rows of a projection, by segment (empty: it is not split). */
export async function readSegmentCheckpoints(
  db: SqlExecutor,
  name: string,
  forUpdate = false,
): Promise<CheckpointRow[]> {
  const result = await db.query<RawCheckpoint>(
    `SELECT * FROM projection_checkpoints WHERE projection = $1 ORDER BY segment${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  );
  return result.rows.map(toCheckpoint);
}

export class SegmentLayoutInUseError extends Error {
  override readonly name = 'SegmentLayoutInUseError';
}

/**
 * Gives a projection `count` segment rows (none for 1), in ensureProjection's transaction.
 * A new layout starts every segment at the lowest position of the old one: everything up to
 * it was applied in every part, and the rest is applied again at most, which the version
 * guards of an idempotent projection skip. Refused while a runner owns a row of the old
 * layout (processes configured differently must not take turns re-splitting it).
 */
async function ensureSegments(conn: ClientBase, name: string, count: number): Promise<void> {
  const current = await readSegmentCheckpoints(conn, name, true);
  if (count > 1 && current.length === count && current.every((row) => row.segments === count)) {
    return;
  }
  if (count === 1 && current.length === 0) return;
  const main = await readCheckpoint(conn, name, true);
  if (!main) throw new Error(`no checkpoint for projection ${name}`);
  const old = current.length > 0 ? current : [main];
  for (const row of old) {
    if ((await advisoryLockHolder(conn, ownerLockKey(row.name))) !== null) {
      throw new SegmentLayoutInUseError(
        `projection ${name} runs as ${current.length || 1} segment(s) in another runner; stop it to use ${count}`,
      );
    }
  }
  if (old.some((row) => row.rebuildGeneration !== null)) {
    throw new SegmentLayoutInUseError(`projection ${name} is being rebuilt; re-split it after`);
  }
  const start = old.reduce(
    (min, row) => (row.position < min ? row.position : min),
    old[0]!.position,
  );
  await conn.query('DELETE FROM projection_checkpoints WHERE projection = $1', [name]);
  await conn.query('UPDATE projection_checkpoints SET position = $2 WHERE name = $1', [
    name,
    start.toString(),
  ]);
  if (count === 1) return;
  await conn.query(
    `INSERT INTO projection_checkpoints (name, version, generation, position, projection, segment, segments)
     SELECT $1 || '#' || s, $2, $3, $4, $1, s, $5 FROM generate_series(0, $5 - 1) AS s`,
    [name, main.version, main.generation, start.toString(), count],
  );
}

/** Which checkpoint of a projection a step advances: the active generation's or a rebuild's. */
export type CheckpointColumn = 'position' | 'rebuild_position';

/** Leaves the failing state (last_error_at and errors_total stay, for metrics). */
const CLEAR_ERROR = `error_position = NULL, error_event_id = NULL, error_event_type = NULL,
       error_message = NULL, error_attempts = 0, error_since = NULL, next_retry_at = NULL`;

/**
 * Moves a checkpoint to `position` (applied up to there) and clears any failure. Callers run
 * it in the transaction that wrote the effect (or the dead letter), after locking the row.
 */
export async function advanceCheckpoint(
  db: SqlExecutor,
  name: string,
  column: CheckpointColumn,
  position: bigint,
): Promise<void> {
  const live = column === 'position';
  await db.query(
    `UPDATE projection_checkpoints
        SET ${live ? 'position' : 'rebuild_position'} = $2, ${CLEAR_ERROR}, updated_at = now()
      WHERE name = $1`,
    [name, position.toString()],
  );
}

/**
 * Gives a rebuild its own checkpoint: `generation` (a fresh table) at `version`, from position
 * 0, and clears any failure; the same for each segment's row of a split projection. Callers
 * hold the row lock, in the transaction that made the table.
 */
export async function startRebuildCheckpoint(
  db: SqlExecutor,
  name: string,
  generation: number,
  version: number,
): Promise<void> {
  await db.query(
    `UPDATE projection_checkpoints
        SET rebuild_generation = $2, rebuild_version = $3, rebuild_position = 0,
            ${CLEAR_ERROR}, updated_at = now()
      WHERE name = $1 OR projection = $1`,
    [name, generation, version],
  );
}

/**
 * The rebuild's checkpoint becomes the active one (generation, version, position) and the
 * rebuild's is cleared, on the projection's row and its segments' rows. Callers hold the
 * row locks, in the transaction that repoints the view.
 */
export async function promoteRebuildCheckpoint(db: SqlExecutor, name: string): Promise<void> {
  await db.query(
    `UPDATE projection_checkpoints
        SET generation = rebuild_generation, version = rebuild_version, position = rebuild_position,
            rebuild_generation = NULL, rebuild_version = NULL, rebuild_position = NULL,
            ${CLEAR_ERROR}, updated_at = now()
      WHERE name = $1 OR projection = $1`,
    [name],
  );
}

export interface FailedEvent {
  position: bigint;
  eventId: string;
  eventType: string;
}

/**
 * Records failed attempts at one event; a new event starts a new run of attempts. Only while
 * the checkpoint still stands where the attempts started (`column` = `from`): a skip that
 * moved it meanwhile must not be answered by a stale failure.
 */
export async function recordFailure(
  db: SqlExecutor,
  name: string,
  stuck: { column: CheckpointColumn; from: bigint; event: FailedEvent },
  message: string,
  attempts: number,
): Promise<void> {
  const { column, from, event } = stuck;
  const live = column === 'position';
  await db.query(
    `UPDATE projection_checkpoints
        SET error_attempts = CASE WHEN error_position = $2 THEN error_attempts + $6 ELSE $6 END,
            error_since = CASE WHEN error_position = $2 THEN error_since ELSE now() END,
            error_position = $2, error_event_id = $3, error_event_type = $4, error_message = $5,
            last_error_at = now(), errors_total = errors_total + $6,
            events_per_second = 0, updated_at = now()
      WHERE name = $1 AND ${live ? 'position' : 'rebuild_position'} = $7`,
    [
      name,
      event.position.toString(),
      event.eventId,
      event.eventType,
      message,
      attempts,
      from.toString(),
    ],
  );
}

/** When the projection, still stuck at `position`, tries again (shown in its status). */
export async function recordNextRetry(
  db: SqlExecutor,
  name: string,
  position: bigint,
  at: Date,
): Promise<void> {
  await db.query(
    'UPDATE projection_checkpoints SET next_retry_at = $3 WHERE name = $1 AND error_position = $2',
    [name, position.toString(), at],
  );
}

/** Records a recent throughput figure for status reports. */
export async function recordRate(db: SqlExecutor, name: string, eventsPerSecond: number) {
  await db.query(
    'UPDATE projection_checkpoints SET events_per_second = $2, updated_at = now() WHERE name = $1',
    [name, eventsPerSecond],
  );
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
export async function ensureProjection(
  conn: ClientBase,
  projection: Projection,
  segments = 1,
): Promise<void> {
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
    await ensureSegments(conn, projection.name, segments);
    await conn.query('COMMIT');
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
