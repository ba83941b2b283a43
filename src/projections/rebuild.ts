import type { ClientBase } from 'pg';
import type { EventStore } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import {
  advisoryUnlock,
  ensureProjection,
  readCheckpoint,
  rebuildLockKey,
  tryAdvisoryLock,
} from './checkpoints';
import { runStep, type EngineOptions } from './engine';
import { beginRebuild, trySwitchOver } from './rebuildTables';
import { UnknownProjectionError, type Projection, type ProjectionSource } from './types';

export interface RebuildProgress {
  projection: string;
  /** Events applied to the new generation so far. */
  done: number;
  /** Events of the projection's types in the store (grows while new ones arrive). */
  total: number;
  eventsPerSecond: number;
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
    await ensureProjection(conn, projection);
    if (!(await tryAdvisoryLock(conn, rebuildLockKey(name)))) {
      throw new RebuildInProgressError(`projection ${name} is already being rebuilt`);
    }
    try {
      return await runRebuild(conn, store, projection, engineOptions(options), onProgress);
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

/** The rebuild itself, on a connection that holds the projection's rebuild lock. */
export async function runRebuild(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  options: EngineOptions,
  onProgress?: (progress: RebuildProgress) => void,
  start: RebuildStart = 'fresh',
): Promise<RebuildResult> {
  // A rebuild is long, legitimate work: its DDL may wait for readers and its count may scan
  // the whole log, so the pool's statement and lock timeouts are off for it (RESET restores
  // the connection's own values before it goes back to the pool).
  await conn.query('SET statement_timeout = 0');
  await conn.query('SET lock_timeout = 0');
  try {
    return await rebuildGeneration(conn, store, projection, options, onProgress, start);
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
): Promise<RebuildResult> {
  const started = performance.now();
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
    total = Math.max(total, done);
    const seconds = (performance.now() - started) / 1000;
    onProgress?.({
      projection: projection.name,
      done,
      total,
      eventsPerSecond: seconds > 0 ? done / seconds : 0,
    });
  };
  const unfinished = start === 'resume' ? await unfinishedRebuildOf(conn, projection) : undefined;
  const generation = unfinished ?? (await beginRebuild(conn, projection));
  options.log(
    `projection ${projection.name}: ${unfinished ? 'resuming the rebuild of' : 'rebuilding into'} generation ${generation}` +
      (projection.liveOnly ? ' (live data only: archived streams skipped)' : ''),
  );
  report();
  for (;;) {
    if (options.isStopped?.()) throw new Error(`rebuild of ${projection.name} interrupted`);
    const step = await runStep(conn, store, projection, 'rebuild', options);
    done += step.applied;
    if (step.outcome === 'applied') report();
    if (step.outcome === 'empty' && (await trySwitchOver(conn, store, projection))) break;
  }
  report();
  const seconds = (performance.now() - started) / 1000;
  options.log(
    `projection ${projection.name}: generation ${generation} active after ${done} events in ${seconds.toFixed(1)} s`,
  );
  return { projection: projection.name, generation, events: done, seconds };
}
