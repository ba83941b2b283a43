/**
 * Runs a projection's batches: reads the events after a checkpoint, applies them and moves
 * the checkpoint in one transaction, and isolates a failing event. The live runner
 * (runner.ts) and a rebuild (rebuild.ts) both step through the log with it; the checkpoint
 * reads and writes are in checkpoints.ts, a rebuild's tables and view in rebuildTables.ts.
 */
import type { ClientBase } from 'pg';
import type { EventStore, RecordedEvent } from '../eventstore';
import type { LogSegment } from '../eventstore/schema/readAll';
import {
  advanceCheckpoint,
  readCheckpoint,
  recordFailure,
  type CheckpointColumn,
  type CheckpointRow,
} from './checkpoints';
import { deadLetteredPositions } from './deadLetters';
import { inTransaction } from './transaction';
import { generationTable, type Projection } from './types';
import { setTimeout as sleep } from 'node:timers/promises';

/** Which generation a step writes: the active one, or the one a rebuild is building. */
export type StepMode = 'live' | 'rebuild';

export interface EngineOptions {
  /** Events read per step and applied in one transaction with one checkpoint update. */
  batchSize: number;
  /** Quick attempts per failing event before the step gives up (the runner retries later). */
  maxAttempts: number;
  /** First quick-retry delay; doubles per attempt (capped at 30 s). */
  retryBaseMs: number;
  /** Test hook: runs after the handler, before the checkpoint update and commit. */
  beforeCheckpoint?: (projection: string, events: readonly RecordedEvent[]) => void | Promise<void>;
  log: (message: string, error?: unknown) => void;
  /** Tells a waiting retry to give up (runner stopping). */
  isStopped?: () => boolean;
}

/**
 * Which checkpoint row a step moves: the projection's own (the default), or one segment's,
 * which reads only its segment's streams.
 */
export interface StepTarget {
  checkpoint: string;
  segment?: LogSegment;
}

export const wholeProjection = (projection: Projection): StepTarget => ({
  checkpoint: projection.name,
});

export interface StepResult {
  /** 'empty': nothing new; 'stale': someone else moved the checkpoint, read again. */
  outcome: 'empty' | 'applied' | 'stale';
  /** Events handed to the handler (committed). */
  applied: number;
}

/** A step gave up on an event (recorded as the failure); its checkpoint stays just before it. */
export class ProjectionFailedError extends Error {
  override readonly name = 'ProjectionFailedError';
  constructor(
    readonly projection: string,
    readonly position: bigint,
    override readonly cause: unknown,
  ) {
    super(`projection ${projection} failed at position ${position}: ${messageOf(cause)}`);
  }
}

class StaleCheckpoint extends Error {}

export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

const checkpointColumn = (mode: StepMode): CheckpointColumn =>
  mode === 'live' ? 'position' : 'rebuild_position';

interface Cursor {
  table: string;
  position: bigint;
  generation: number;
}

function cursorOf(
  projection: Projection,
  checkpoint: CheckpointRow,
  mode: StepMode,
): Cursor | undefined {
  if (mode === 'live') {
    return {
      table: generationTable(projection.name, checkpoint.generation),
      position: checkpoint.position,
      generation: checkpoint.generation,
    };
  }
  if (checkpoint.rebuildGeneration === null || checkpoint.rebuildPosition === null)
    return undefined;
  return {
    table: generationTable(projection.name, checkpoint.rebuildGeneration),
    position: checkpoint.rebuildPosition,
    generation: checkpoint.rebuildGeneration,
  };
}

/**
 * One catch-up step: reads the next batch after the checkpoint (outside any transaction,
 * so no transaction of ours holds readers back while we read), then in one short
 * transaction locks the checkpoint row, checks nobody moved it, applies the events and
 * advances the checkpoint. A crash anywhere before COMMIT leaves both untouched.
 */
export async function runStep(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  mode: StepMode,
  options: EngineOptions,
  target: StepTarget = wholeProjection(projection),
): Promise<StepResult> {
  const checkpoint = await readCheckpoint(conn, target.checkpoint);
  if (!checkpoint) throw new Error(`no checkpoint row ${target.checkpoint}`);
  const cursor = cursorOf(projection, checkpoint, mode);
  if (!cursor) return { outcome: 'empty', applied: 0 };
  const read = await store.readAll({
    after: cursor.position,
    limit: options.batchSize,
    eventTypes: projection.eventTypes,
    archivedStreams: projection.liveOnly ? 'skip' : 'include',
    ...(target.segment && { segment: target.segment }),
  });
  const { lastPosition } = read;
  if (lastPosition === cursor.position) return { outcome: 'empty', applied: 0 };
  const events =
    mode === 'rebuild' ? await withoutDeadLetters(conn, projection, read.events) : read.events;

  try {
    await applyInTransaction(conn, projection, target, mode, cursor, events, lastPosition, options);
    return { outcome: 'applied', applied: events.length };
  } catch (error) {
    if (error instanceof StaleCheckpoint) return { outcome: 'stale', applied: 0 };
    if (events.length === 0) throw error; // only the checkpoint update failed: retry later
    options.log(
      `projection ${projection.name}: batch failed, retrying event by event: ${messageOf(error)}`,
    );
  }

  // Find the failing event: apply one event per transaction, retrying each with backoff.
  let position = cursor.position;
  let applied = 0;
  try {
    for (const event of events) {
      await applyWithRetry(conn, projection, target, mode, { ...cursor, position }, event, options);
      position = event.globalPosition;
      applied++;
    }
    if (position !== lastPosition) {
      await applyInTransaction(
        conn,
        projection,
        target,
        mode,
        { ...cursor, position },
        [],
        lastPosition,
        options,
      );
    }
  } catch (error) {
    if (error instanceof StaleCheckpoint) return { outcome: 'stale', applied };
    throw error;
  }
  return { outcome: 'applied', applied };
}

/** A rebuild replays the whole log: events an operator skipped before stay skipped. */
async function withoutDeadLetters(
  conn: ClientBase,
  projection: Projection,
  events: readonly RecordedEvent[],
): Promise<readonly RecordedEvent[]> {
  const skipped = await deadLetteredPositions(
    conn,
    projection.name,
    events.map((event) => event.globalPosition),
  );
  return skipped.size === 0 ? events : events.filter((event) => !skipped.has(event.globalPosition));
}

async function applyWithRetry(
  conn: ClientBase,
  projection: Projection,
  target: StepTarget,
  mode: StepMode,
  cursor: Cursor,
  event: RecordedEvent,
  options: EngineOptions,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await applyInTransaction(
        conn,
        projection,
        target,
        mode,
        cursor,
        [event],
        event.globalPosition,
        options,
      );
      return;
    } catch (error) {
      if (error instanceof StaleCheckpoint) throw error;
      if (attempt >= options.maxAttempts || options.isStopped?.()) {
        const stuck = {
          column: checkpointColumn(mode),
          from: cursor.position,
          event: { position: event.globalPosition, eventId: event.eventId, eventType: event.type },
        };
        await recordFailure(
          conn,
          target.checkpoint,
          stuck,
          messageOf(error).slice(0, 2000),
          attempt,
        ).catch((recordError: unknown) =>
          options.log('could not record a projection failure', recordError),
        );
        throw new ProjectionFailedError(projection.name, event.globalPosition, error);
      }
      const delay = Math.min(30_000, options.retryBaseMs * 2 ** (attempt - 1));
      options.log(
        `projection ${projection.name}: event ${event.globalPosition} failed (attempt ${attempt}/${options.maxAttempts}), retrying in ${delay} ms: ${messageOf(error)}`,
      );
      await sleep(delay);
    }
  }
}

async function applyInTransaction(
  conn: ClientBase,
  projection: Projection,
  target: StepTarget,
  mode: StepMode,
  cursor: Cursor,
  events: readonly RecordedEvent[],
  nextPosition: bigint,
  options: EngineOptions,
): Promise<void> {
  await inTransaction(conn, async () => {
    const locked = await readCheckpoint(conn, target.checkpoint, true);
    const current = locked && cursorOf(projection, locked, mode);
    if (
      !current ||
      current.position !== cursor.position ||
      current.generation !== cursor.generation
    ) {
      throw new StaleCheckpoint();
    }
    if (projection.applyBatch) await projection.applyBatch(conn, events, cursor.table);
    else for (const event of events) await projection.handle(conn, event, cursor.table);
    await options.beforeCheckpoint?.(projection.name, events);
    await advanceCheckpoint(conn, target.checkpoint, checkpointColumn(mode), nextPosition);
  });
}
