import type { Pool } from 'pg';
import type { SqlExecutor } from '../eventstore';
import type { ReaderHoldback } from '../eventstore';
import { catchUpPointOf, inSegmentSql, type LogSegment } from '../eventstore/schema/readAll';
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
  /**
   * Of a projection split into segments, each one (the figures above then sum them up;
   * `checkpoint` is the lowest); null when it is not split.
   */
  segments: SegmentStatus[] | null;
}

export interface SegmentStatus {
  segment: number;
  checkpoint: string;
  lagEvents: number;
  lagSeconds: number;
  eventsPerSecond: number;
  state: ProjectionState;
  /** Backend pid of the runner connection that owns it (null: unowned). */
  ownerPid: number | null;
  /** That connection's application_name (which process). */
  owner: string | null;
  rebuildCheckpoint: string | null;
}

/** A rate not refreshed for this long is stale: the runner is gone or idle. */
const RATE_STALE_MS = 15_000;

export async function getProjectionStatuses(
  pool: Pool | SqlExecutor,
  projections: readonly Projection[] = ALL_PROJECTIONS,
): Promise<ProjectionStatus[]> {
  const checkpoints = await readCheckpoints(pool);
  const typesByName = new Map(projections.map((p) => [p.name, p.eventTypes]));
  const segmentsOf = new Map<string, CheckpointRow[]>();
  for (const row of checkpoints) {
    if (row.segmentOf !== null) {
      segmentsOf.set(row.segmentOf, [...(segmentsOf.get(row.segmentOf) ?? []), row]);
    }
  }
  return Promise.all(
    checkpoints
      .filter((checkpoint) => checkpoint.segmentOf === null)
      .filter((checkpoint) => projections.length === 0 || typesByName.has(checkpoint.name))
      .map(async (checkpoint) => {
        const eventTypes = typesByName.get(checkpoint.name);
        const segments = segmentsOf.get(checkpoint.name);
        if (!segments) return withoutOwner(await statusOf(pool, checkpoint, eventTypes));
        const parts = await Promise.all(
          segments.map((row) =>
            statusOf(pool, row, eventTypes, { index: row.segment!, count: row.segments! }),
          ),
        );
        return splitStatus(await statusOf(pool, checkpoint, eventTypes), segments, parts);
      }),
  );
}

/** One checkpoint row's status, and who owns the row. */
type RowStatus = ProjectionStatus & { ownerPid: number | null; owner: string | null };

const withoutOwner = ({ ownerPid: _pid, owner: _owner, ...status }: RowStatus): ProjectionStatus =>
  status;

/** A split projection's status: its own row's version and generation, its segments' figures. */
function splitStatus(
  own: RowStatus,
  rows: readonly CheckpointRow[],
  parts: readonly RowStatus[],
): ProjectionStatus {
  const lowest = rows.reduce(
    (min, row) => (row.position < min ? row.position : min),
    rows[0]!.position,
  );
  const failing = parts.find((part) => part.state === 'failing');
  const sum = (pick: (part: ProjectionStatus) => number) =>
    parts.reduce((total, part) => total + pick(part), 0);
  return {
    ...withoutOwner(own),
    checkpoint: lowest.toString(),
    lagEvents: sum((part) => part.lagEvents),
    heldBackEvents: sum((part) => part.heldBackEvents),
    lagSeconds: Math.max(...parts.map((part) => part.lagSeconds)),
    eventsPerSecond: sum((part) => part.eventsPerSecond),
    state: failing
      ? 'failing'
      : own.state === 'rebuilding'
        ? 'rebuilding'
        : parts.some((part) => part.state === 'running')
          ? 'running'
          : 'idle',
    error: failing?.error ?? null,
    errorsTotal: sum((part) => part.errorsTotal),
    lastErrorAt:
      parts
        .map((part) => part.lastErrorAt)
        .filter((at) => at !== null)
        .sort()
        .pop() ?? null,
    segments: parts.map((part, segment) => ({
      segment,
      checkpoint: part.checkpoint,
      lagEvents: part.lagEvents,
      lagSeconds: part.lagSeconds,
      eventsPerSecond: part.eventsPerSecond,
      state: part.state,
      ownerPid: part.ownerPid,
      owner: part.owner,
      rebuildCheckpoint: part.rebuild?.checkpoint ?? null,
    })),
  };
}

async function statusOf(
  db: SqlExecutor,
  checkpoint: CheckpointRow,
  eventTypes: readonly string[] | undefined,
  segment?: LogSegment,
): Promise<RowStatus> {
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
        AND ($4::text[] IS NULL OR event_type = ANY($4))
        AND ${inSegmentSql('$5', '$6')}`,
    [
      point.transactionId,
      point.position,
      point.floor,
      eventTypes ?? null,
      segment?.index ?? null,
      segment?.count ?? null,
    ],
  );
  const owner = await advisoryLockHolder(db, ownerLockKey(checkpoint.name));
  const ownerName =
    owner === null
      ? null
      : ((
          await db.query<{ name: string }>(
            'SELECT application_name AS name FROM pg_stat_activity WHERE pid = $1',
            [owner],
          )
        ).rows[0]?.name ?? null);
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
    segments: null,
    ownerPid: owner,
    owner: ownerName,
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
