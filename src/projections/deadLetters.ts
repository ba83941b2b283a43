import type { EventStore, RecordedEvent, SqlExecutor } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import {
  advanceCheckpoint,
  readCheckpoint,
  readSegmentCheckpoints,
  type CheckpointColumn,
  type CheckpointRow,
} from './checkpoints';
import { UnknownProjectionError, type Projection, type ProjectionSource } from './types';

/** Notified with a projection's name when an operator skipped the event it was stuck on. */
export const RETRY_CHANNEL = 'sagaflow_projection_retry';

/** An event an operator told a projection to skip, and why. */
export interface DeadLetter {
  id: string;
  projection: string;
  eventId: string;
  /** Global position (decimal string). */
  position: string;
  eventType: string;
  /** The error the projection was stuck with. */
  error: string;
  reason: string;
  skippedBy: string;
  /** ISO-8601. */
  skippedAt: string;
}

/** The skip names an event the projection is not stuck on (nothing was changed). */
export class NotStuckOnEventError extends Error {
  override readonly name = 'NotStuckOnEventError';
}

export interface SkipRequest {
  position: bigint;
  reason: string;
  /** Who asked (an API key's id, a CLI user). */
  skippedBy: string;
}

interface RawDeadLetter {
  id: string;
  projection: string;
  event_id: string;
  event_position: string;
  event_type: string;
  error: string;
  reason: string;
  skipped_by: string;
  skipped_at: Date;
}

const toDeadLetter = (row: RawDeadLetter): DeadLetter => ({
  id: row.id,
  projection: row.projection,
  eventId: row.event_id,
  position: row.event_position,
  eventType: row.event_type,
  error: row.error,
  reason: row.reason,
  skippedBy: row.skipped_by,
  skippedAt: row.skipped_at.toISOString(),
});

export function findProjection(
  name: string,
  projections: readonly Projection[] = ALL_PROJECTIONS,
): Projection {
  const projection = projections.find((p) => p.name === name);
  if (!projection) throw new UnknownProjectionError(`no projection named ${name}`);
  return projection;
}

/** The event a checkpoint row at `after` reads next: the engine's own readAll decides. */
async function nextEventAfter(
  store: EventStore,
  after: bigint,
  eventTypes: readonly string[],
  row: CheckpointRow,
) {
  const segment =
    row.segment !== null && row.segments !== null
      ? { segment: { index: row.segment, count: row.segments } }
      : {};
  const { events } = await store.readAll({ after, limit: 1, eventTypes, ...segment });
  return events[0];
}

/** The row stuck at `position`: the projection's own, or one of its segments'. */
async function stuckRowOf(
  conn: SqlExecutor,
  name: string,
  position: bigint,
): Promise<CheckpointRow | undefined> {
  const own = await readCheckpoint(conn, name, true);
  if (!own || own.errorPosition === position) return own;
  const segments = await readSegmentCheckpoints(conn, name, true);
  return (
    segments.find((row) => row.errorPosition === position) ??
    segments.find((row) => row.errorPosition !== null) ??
    own
  );
}

/**
 * Skips the event a failing projection is stuck on: in one transaction, with the checkpoint
 * row locked, records the dead letter and moves the checkpoint(s) stuck just before the
 * event past it. Refused (NotStuckOnEventError) unless `position` is where it is stuck.
 * Wakes the owning runner, which is otherwise waiting out its retry backoff.
 */
export async function skipStuckEvent(
  { pool, eventStore: store }: ProjectionSource,
  name: string,
  request: SkipRequest,
  projections?: readonly Projection[],
): Promise<DeadLetter> {
  const projection = findProjection(name, projections);
  const conn = await pool.connect();
  let broken: Error | undefined;
  try {
    await conn.query('BEGIN');
    const checkpoint = await stuckRowOf(conn, name, request.position);
    if (!checkpoint) throw new UnknownProjectionError(`no projection named ${name}`);
    if (checkpoint.errorPosition !== request.position) {
      throw new NotStuckOnEventError(
        checkpoint.errorPosition === null
          ? `projection ${name} is not stuck on any event`
          : `projection ${name} is stuck at position ${checkpoint.errorPosition}, not ${request.position}`,
      );
    }
    const stuck: CheckpointColumn[] = [];
    let event: RecordedEvent | undefined;
    for (const [column, at] of [
      ['position', checkpoint.position],
      ['rebuild_position', checkpoint.rebuildPosition],
    ] as const) {
      if (at === null) continue;
      const next = await nextEventAfter(store, at, projection.eventTypes, checkpoint);
      if (next?.globalPosition === request.position) {
        stuck.push(column);
        event = next;
      }
    }
    if (!event) {
      throw new NotStuckOnEventError(
        `projection ${name}: position ${request.position} is not the next event it reads`,
      );
    }
    const inserted = await conn.query<RawDeadLetter>(
      `INSERT INTO projection_dead_letters
              (projection, event_id, event_position, event_type, error, reason, skipped_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING *`,
      [
        name,
        event.eventId,
        event.globalPosition.toString(),
        event.type,
        checkpoint.errorMessage ?? '',
        request.reason,
        request.skippedBy,
      ],
    );
    for (const column of stuck) {
      await advanceCheckpoint(conn, checkpoint.name, column, event.globalPosition);
    }
    await conn.query('SELECT pg_notify($1, $2)', [RETRY_CHANNEL, name]);
    await conn.query('COMMIT');
    return toDeadLetter(inserted.rows[0]!);
  } catch (error) {
    // A refusal leaves a healthy connection; anything else may not (a timed-out query).
    const refusal =
      error instanceof NotStuckOnEventError || error instanceof UnknownProjectionError;
    await conn.query('ROLLBACK').catch(() => undefined);
    if (!refusal) broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    conn.release(broken);
  }
}

/** The events skipped for one projection, most recent first. */
export async function listDeadLetters(
  db: SqlExecutor,
  name: string,
  options: { limit?: number; projections?: readonly Projection[] } = {},
): Promise<DeadLetter[]> {
  findProjection(name, options.projections);
  const result = await db.query<RawDeadLetter>(
    `SELECT * FROM projection_dead_letters WHERE projection = $1
      ORDER BY skipped_at DESC, id DESC LIMIT $2`,
    [name, options.limit ?? 100],
  );
  return result.rows.map(toDeadLetter);
}

/**
 * Which of these events were skipped for the projection before: a rebuild replays the log
 * from 0 and must not get stuck again on an event an operator already dead-lettered.
 */
export async function deadLetteredPositions(
  db: SqlExecutor,
  name: string,
  positions: readonly bigint[],
): Promise<Set<bigint>> {
  if (positions.length === 0) return new Set();
  const result = await db.query<{ event_position: string }>(
    `SELECT event_position FROM projection_dead_letters
      WHERE projection = $1 AND event_position = ANY($2::bigint[])`,
    [name, positions.map(String)],
  );
  return new Set(result.rows.map((row) => BigInt(row.event_position)));
}
