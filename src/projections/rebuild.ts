import type { ClientBase, Pool } from 'pg';
import { PostgresEventStore, type EventStore } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import { advisoryUnlock, ensureProjection, rebuildLockKey, tryAdvisoryLock } from './checkpoints';
import { beginRebuild, runStep, trySwitchOver, type EngineOptions } from './engine';
import { UnknownProjectionError, type Projection } from './types';

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
  eventStore?: EventStore;
  log?: (message: string, error?: unknown) => void;
}

/**
 * Rebuilds a projection from position 0 into a fresh generation while the current one
 * keeps serving (and a running projector keeps it up to date), then switches readers over
 * atomically. One rebuild per projection at a time (advisory lock).
 */
export async function rebuildProjection(
  pool: Pool,
  name: string,
  onProgress?: (progress: RebuildProgress) => void,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const projection = (options.projections ?? ALL_PROJECTIONS).find((p) => p.name === name);
  if (!projection) throw new UnknownProjectionError(`no projection named ${name}`);
  const store = options.eventStore ?? new PostgresEventStore(pool);
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

/** The rebuild itself, on a connection that holds the projection's rebuild lock. */
export async function runRebuild(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  options: EngineOptions,
  onProgress?: (progress: RebuildProgress) => void,
): Promise<RebuildResult> {
  // A rebuild is long, legitimate work: its DDL may wait for readers and its count may scan
  // the whole log, so the pool's statement and lock timeouts are off for it (RESET restores
  // the connection's own values before it goes back to the pool).
  await conn.query('SET statement_timeout = 0');
  await conn.query('SET lock_timeout = 0');
  try {
    return await rebuildGeneration(conn, store, projection, options, onProgress);
  } finally {
    await conn.query('RESET statement_timeout').catch(() => undefined);
    await conn.query('RESET lock_timeout').catch(() => undefined);
  }
}

async function rebuildGeneration(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  options: EngineOptions,
  onProgress?: (progress: RebuildProgress) => void,
): Promise<RebuildResult> {
  const started = performance.now();
  // Only a progress bar needs the total, and the count scans every event of these types.
  const totalResult = onProgress
    ? await conn.query<{ total: string }>(
        'SELECT count(*) AS total FROM events WHERE event_type = ANY($1)',
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
  const generation = await beginRebuild(conn, projection);
  options.log(`projection ${projection.name}: rebuilding into generation ${generation}`);
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
