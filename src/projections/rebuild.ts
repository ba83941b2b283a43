import type { ClientBase, Pool } from 'pg';
import type { EventStore } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import {
  advisoryUnlock,
  ensureProjection,
  readCheckpoint,
  readSegmentCheckpoints,
  rebuildLockKey,
  segmentCheckpointName,
  tryAdvisoryLock,
} from './checkpoints';
import { runStep, wholeProjection, type EngineOptions, type StepTarget } from './engine';
import { segmentCountOf } from './runnerHeartbeat';
import { beginRebuild, trySwitchOver } from './rebuildTables';
import { UnknownProjectionError, type Projection, type ProjectionSource } from './types';

export interface RebuildProgress {
  projection: string;
  /** Events applied to the new generation so far. */
  done: number;
  /** Events of the projection's types in the store (grows while new ones arrive). */
  total: number;
  eventsPerSecond: number;
  /** Of a split projection: events applied per segment so far (index = segment). */
  segments?: number[];
}

export interface RebuildResult {
  projection: string;
  generation: number;
  events: number;
  seconds: number;
}

export class RebuildInProgressError extends Error {
  override readonly name = 'RebuildInProgressError';
}

export { UnknownProjectionError } from './types';

export interface RebuildOptions extends Partial<Omit<EngineOptions, 'log'>> {
  projections?: readonly Projection[];
  /**
   * As the runners' option (PROJECTION_SEGMENTS): segments of projections without their own.
   * Default: as many as the projection has now.
   */
  segments?: number;
  log?: (message: string, error?: unknown) => void;
}

/**
 * Rebuilds a projection from position 0 into a fresh generation while the current one
 * keeps serving (and a running projector keeps it up to date), then switches readers over
 * atomically. One rebuild per projection at a time (advisory lock).
 */
export async function rebuildProjection(
  { pool, eventStore: store }: ProjectionSource,
  name: string,
  onProgress?: (progress: RebuildProgress) => void,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const projection = (options.projections ?? ALL_PROJECTIONS).find((p) => p.name === name);
  if (!projection) throw new UnknownProjectionError(`no projection named ${name}`);
  const conn = await pool.connect();
  let released = false;
  try {
    // Unless told, the layout the runners use now (a CLI need not repeat their setting).
    const segments = segmentCountOf(
      projection,
      options.segments ?? ((await readSegmentCheckpoints(conn, name)).length || 1),
    );
    await ensureProjection(conn, projection, segments);
    if (!(await tryAdvisoryLock(conn, rebuildLockKey(name)))) {
      throw new RebuildInProgressError(`projection ${name} is already being rebuilt`);
    }
    try {
      return await runRebuild(
        conn,
        store,
        projection,
        engineOptions(options),
        onProgress,
        'fresh',
        {
          segments,
          pool,
        },
      );
    } finally {
      await advisoryUnlock(conn, rebuildLockKey(name)).catch(() => undefined);
    }
  } catch (error) {
    // A connection that failed mid-transaction must not go back to the pool.
    conn.release(error instanceof Error ? error : true);
    released = true;
    throw error;
  } finally {
    if (!released) conn.release();
  }
}

export function engineOptions(options: Partial<EngineOptions> = {}): EngineOptions {
  return {
    batchSize: options.batchSize ?? 1000,
    maxAttempts: options.maxAttempts ?? 5,
    retryBaseMs: options.retryBaseMs ?? 200,
    ...(options.beforeCheckpoint && { beforeCheckpoint: options.beforeCheckpoint }),
    ...(options.isStopped && { isStopped: options.isStopped }),
    log: options.log ?? (() => {}),
  };
}

/**
 * Where a rebuild starts. `fresh`: a new generation from position 0 (an operator's rebuild,
 * e.g. after a handler fix). `resume`: carry on with an unfinished rebuild for this same
 * version, if any (each of its batches committed with its checkpoint): the runner's
 * version-bump rebuild, which a failing event interrupts on every retry.
 */
export type RebuildStart = 'fresh' | 'resume';

/** A split projection's rebuild runs its segments in parallel, each on a pool connection. */
export interface RebuildSplit {
  segments: number;
  pool: Pool;
}

/** The rebuild itself, on a connection that holds the projection's rebuild lock. */
export async function runRebuild(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  options: EngineOptions,
  onProgress?: (progress: RebuildProgress) => void,
  start: RebuildStart = 'fresh',
  split?: RebuildSplit,
): Promise<RebuildResult> {
  // A rebuild is long, legitimate work: its DDL may wait for readers and its count may scan
  // the whole log, so the pool's statement and lock timeouts are off for it (RESET restores
  // the connection's own values before it goes back to the pool).
  await conn.query('SET statement_timeout = 0');
  await conn.query('SET lock_timeout = 0');
  try {
    return await rebuildGeneration(conn, store, projection, options, onProgress, start, split);
  } finally {
    await conn.query('RESET statement_timeout').catch(() => undefined);
    await conn.query('RESET lock_timeout').catch(() => undefined);
  }
}

async function unfinishedRebuildOf(
  conn: ClientBase,
  projection: Projection,
): Promise<number | undefined> {
  const checkpoint = await readCheckpoint(conn, projection.name);
  const sameVersion = checkpoint?.rebuildVersion === projection.version;
  return (sameVersion && checkpoint?.rebuildGeneration) || undefined;
}

/** The progress bar's total: a live-only projection reads the hot events alone. */
const COUNT_ALL_EVENTS = 'SELECT count(*) AS total FROM all_events WHERE event_type = ANY($1)';
const COUNT_HOT_EVENTS = 'SELECT count(*) AS total FROM events WHERE event_type = ANY($1)';

async function rebuildGeneration(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  options: EngineOptions,
  onProgress: ((progress: RebuildProgress) => void) | undefined,
  start: RebuildStart,
  split: RebuildSplit | undefined,
): Promise<RebuildResult> {
  const started = performance.now();
  const parts = partsOf(projection, split?.segments ?? 1);
  const doneBy = parts.map(() => 0);
  // Only a progress bar needs the total, and the count scans every event of these types.
  const totalResult = onProgress
    ? await conn.query<{ total: string }>(
        projection.liveOnly ? COUNT_HOT_EVENTS : COUNT_ALL_EVENTS,
        [projection.eventTypes],
      )
    : undefined;
  let total = Number(totalResult?.rows[0]?.total ?? 0);
  let done = 0;
  const report = () => {
    done = doneBy.reduce((sum, n) => sum + n, 0);
    total = Math.max(total, done);
    const seconds = (performance.now() - started) / 1000;
    onProgress?.({
      projection: projection.name,
      done,
      total,
      eventsPerSecond: seconds > 0 ? done / seconds : 0,
      ...(parts.length > 1 && { segments: [...doneBy] }),
    });
  };
  const unfinished = start === 'resume' ? await unfinishedRebuildOf(conn, projection) : undefined;
  const generation = unfinished ?? (await beginRebuild(conn, projection));
  options.log(
    `projection ${projection.name}: ${unfinished ? 'resuming the rebuild of' : 'rebuilding into'} generation ${generation}` +
      (projection.liveOnly ? ' (live data only: archived streams skipped)' : ''),
  );
  report();
  const step = async (part: number, partConn: ClientBase) => {
    if (options.isStopped?.()) throw new Error(`rebuild of ${projection.name} interrupted`);
    const result = await runStep(partConn, store, projection, 'rebuild', options, parts[part]);
    doneBy[part]! += result.applied;
    if (result.outcome === 'applied') report();
    return result.outcome;
  };
  for (;;) {
    if (parts.length === 1) {
      if ((await step(0, conn)) !== 'empty') continue;
    } else {
      await catchUpInParallel(split!.pool, parts.length, step);
    }
    if (await trySwitchOver(conn, store, projection, parts)) break;
  }
  report();
  const seconds = (performance.now() - started) / 1000;
  options.log(
    `projection ${projection.name}: generation ${generation} active after ${done} events in ${seconds.toFixed(1)} s`,
  );
  return { projection: projection.name, generation, events: done, seconds };
}

/** The checkpoints a rebuild moves: the projection's own, or one per segment. */
function partsOf(projection: Projection, segments: number): StepTarget[] {
  if (segments === 1) return [wholeProjection(projection)];
  return Array.from({ length: segments }, (_, index) => ({
    checkpoint: segmentCheckpointName(projection.name, index),
    segment: { index, count: segments },
  }));
}

/** Steps every segment, each on its own connection, until none has anything left. */
async function catchUpInParallel(
  pool: Pool,
  parts: number,
  step: (part: number, conn: ClientBase) => Promise<'empty' | 'applied' | 'stale'>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: parts }, async (_, part) => {
      const conn = await pool.connect();
      let failed: Error | undefined;
      try {
        await conn.query('SET statement_timeout = 0');
        while ((await step(part, conn)) !== 'empty');
        await conn.query('RESET statement_timeout');
      } catch (error) {
        failed = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        conn.release(failed);
      }
    }),
  );
}
