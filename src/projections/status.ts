import type { Pool } from 'pg';
import type { SqlExecutor } from '../eventstore';
import type { ReaderHoldback } from '../eventstore';
import { catchUpPointOf } from '../eventstore/schema/readAll';
import { readReaderHoldback } from '../eventstore/schema/readerHoldback';
import { ALL_PROJECTIONS } from './all';
import {
  ownerLockKey,
  readCheckpoints,
  advisoryLockHolder,
  type CheckpointRow,
} from './checkpoints';
import type { Projection } from './types';

export const PROJECTION_STATES = ['running', 'rebuilding', 'failing', 'idle'] as const;
export type ProjectionState = (typeof PROJECTION_STATES)[number];

/** The event a failing projection is stuck on, and how its retries go. */
export interface ProjectionError {
  /** Global position of the event (decimal string); skip it with this. */
  position: string;
  eventId: string | null;
  eventType: string | null;
  message: string;
  /** Failed attempts in a row at this event. */
  attempts: number;
  /** ISO-8601 times: first failure at this event, latest failure, next retry. */
  since: string | null;
  lastErrorAt: string | null;
  nextRetryAt: string | null;
}

export interface ProjectionStatus {
  name: string;
  version: number;
  generation: number;
  /** Global position applied up to (decimal string: positions are bigint). */
  checkpoint: string;
  /**
   * Events of the projection's types committed after the checkpoint and not applied yet,
   * including those held back (committed, but not handed out while an older transaction
   * anywhere on the server still runs).
   */
  lagEvents: number;
  /** Of lagEvents, those held back by an open transaction (see readerHoldback.ts). */
  heldBackEvents: number;
  /** Age of the oldest unprocessed event, 0 when caught up. */
  lagSeconds: number;
  /** Recent throughput of the owning runner. */
  eventsPerSecond: number;
  /** failing: stuck at `error.position`, retrying on a backoff until it applies or is
   *  skipped; rebuilding: a new generation is being built; running: a runner owns it;
   *  idle: no runner owns it. */
  state: ProjectionState;
  error: ProjectionError | null;
  /** Failed attempts ever, and when the latest was (ISO-8601, null if never). */
  errorsTotal: number;
  lastErrorAt: string | null;
  /** Progress of a rebuild in progress, else null. */
  rebuild: { generation: number; version: number; checkpoint: string } | null;
}

/** A rate not refreshed for this long is stale: the runner is gone or idle. */
const RATE_STALE_MS = 15_000;

export async function getProjectionStatuses(
  pool: Pool | SqlExecutor,
  projections: readonly Projection[] = ALL_PROJECTIONS,
): Promise<ProjectionStatus[]> {
  const checkpoints = await readCheckpoints(pool);
  const typesByName = new Map(projections.map((p) => [p.name, p.eventTypes]));
  return Promise.all(
    checkpoints
      .filter((checkpoint) => projections.length === 0 || typesByName.has(checkpoint.name))
      .map((checkpoint) => statusOf(pool, checkpoint, typesByName.get(checkpoint.name))),
  );
}

async function statusOf(
  db: SqlExecutor,
  checkpoint: CheckpointRow,
  eventTypes: readonly string[] | undefined,
): Promise<ProjectionStatus> {
  // Same order and the same cursor resolution as readAll, so lag counts what it would hand out.
  const point = await catchUpPointOf(db, checkpoint.position);
  // Held-back events (committed, transaction at or above the horizon) are lag too: they
  // sort after the checkpoint's point, and a reader will get them once the horizon moves.
  const lag = await db.query<{ events: string; held_back: string; oldest_age: number | null }>(
    `SELECT count(*) AS events,
            count(*) FILTER (WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot()))
              AS held_back,
            extract(epoch FROM (clock_timestamp() - min(created_at)))::float8 AS oldest_age
       FROM events
      WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
        AND global_position > $3::bigint
        AND ($4::text[] IS NULL OR event_type = ANY($4))`,
    [point.transactionId, point.position, point.floor, eventTypes ?? null],
  );
  const owner = await advisoryLockHolder(db, ownerLockKey(checkpoint.name));
  const state: ProjectionState =
    checkpoint.errorPosition !== null
      ? 'failing'
      : checkpoint.rebuildGeneration !== null
        ? 'rebuilding'
        : owner !== null
          ? 'running'
          : 'idle';
  const fresh = Date.now() - checkpoint.updatedAt.getTime() < RATE_STALE_MS;
  return {
    name: checkpoint.name,
    version: checkpoint.version,
    generation: checkpoint.generation,
    checkpoint: checkpoint.position.toString(),
    lagEvents: Number(lag.rows[0]?.events ?? 0),
    heldBackEvents: Number(lag.rows[0]?.held_back ?? 0),
    lagSeconds: Math.max(0, lag.rows[0]?.oldest_age ?? 0),
    eventsPerSecond: fresh && state !== 'failing' ? checkpoint.eventsPerSecond : 0,
    state,
    error: errorOf(checkpoint),
    errorsTotal: Number(checkpoint.errorsTotal),
    lastErrorAt: checkpoint.lastErrorAt?.toISOString() ?? null,
    rebuild:
      checkpoint.rebuildGeneration === null
        ? null
        : {
            generation: checkpoint.rebuildGeneration,
            version: checkpoint.rebuildVersion ?? checkpoint.version,
            checkpoint: (checkpoint.rebuildPosition ?? 0n).toString(),
          },
  };
}

function errorOf(checkpoint: CheckpointRow): ProjectionError | null {
  if (checkpoint.errorPosition === null) return null;
  return {
    position: checkpoint.errorPosition.toString(),
    eventId: checkpoint.errorEventId,
    eventType: checkpoint.errorEventType,
    message: checkpoint.errorMessage ?? '',
    attempts: checkpoint.errorAttempts,
    since: checkpoint.errorSince?.toISOString() ?? null,
    lastErrorAt: checkpoint.lastErrorAt?.toISOString() ?? null,
    nextRetryAt: checkpoint.nextRetryAt?.toISOString() ?? null,
  };
}

/** Committed events every catch-up reader waits for, and the transaction they wait for. */
export function getCatchUpHoldback(db: Pool | SqlExecutor): Promise<ReaderHoldback> {
  return readReaderHoldback(db);
}

/** An operator's explanation of a hold-back (empty when nothing is held back). */
export function describeHoldback(holdback: ReaderHoldback): string[] {
  const holder = holdback.holder;
  if (holdback.heldBackEvents === 0 || !holder) return [];
  const age =
    holder.ageSeconds === null
      ? 'age not visible to this role'
      : `${holder.ageSeconds.toFixed(1)} s old`;
  return [
    `${holdback.heldBackEvents} committed event(s) are held back from every projection by transaction ${holder.xid}`,
    `  ${age}, ${holder.xidAge} transactions ago; database ${holder.database ?? '?'}, application ${JSON.stringify(holder.applicationName ?? '')}, state ${holder.state ?? '?'}${holder.pid !== null ? `, pid ${holder.pid}` : ''}`,
    holder.preparedTransaction !== null
      ? `  a prepared transaction: COMMIT PREPARED or ROLLBACK PREPARED '${holder.preparedTransaction}' ends it`
      : `  end it (its work is rolled back): SELECT pg_terminate_backend(${holder.pid ?? '<pid>'});`,
  ];
}
