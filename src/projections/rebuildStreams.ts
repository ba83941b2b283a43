/**
 * `npm run projections -- rebuild <name> --stream <id>[,...]`: recomputes the rows of a few
 * aggregates in the live generation (e.g. after a handler fix that touched a few orders)
 * while projectors keep running, instead of rebuilding the whole read model.
 *
 * Why no event is applied twice or lost, with the live runner and inline projection racing:
 *
 * - Per chunk of streams, ONE transaction first locks the projection's checkpoint row
 *   (FOR UPDATE). Every runner batch (engine.ts applyInTransaction) and every rebuild
 *   switch-over locks that row before it writes, so none can commit in between: the
 *   checkpoint C and the generation are fixed until we commit. Locking in the same order
 *   as the runner (checkpoint row, then read-model rows) leaves no deadlock.
 * - The runner has applied exactly the events at or before C in catch-up order (the
 *   (transaction_id, global_position) order readAll walks; catchUpPointOf maps C to it), and
 *   will hand out exactly the ones after C. So we delete the streams' rows and re-apply
 *   their events at or before C (read with readStream: all of them are committed, since the
 *   runner saw them), leaving dead-lettered ones out as the runner and a rebuild do. Events
 *   after C, including any the runner had read but not yet committed, are applied by the
 *   runner once we commit: its batch still matches the checkpoint, which we did not move.
 *   This holds even for a handler without version guard (the concurrency test uses one).
 * - Inline projection (inline.ts) writes rows without the checkpoint lock, but only through
 *   the version guard. An inline write that commits before our DELETE is deleted (its event
 *   is re-applied by us if at or before C, else by the runner). One that comes later waits
 *   on our row lock, then finds the row gone or already past its version: a no-op. An
 *   inline insert we wait on (ON CONFLICT) is the same handler's row for version 1, which
 *   we then build on. Catch-up delivers every event after C regardless: nothing is lost.
 *
 * - A projection split into segments (runner.ts) has a checkpoint row per segment, and a
 *   segment's batches lock only theirs: we lock every segment row too (after the
 *   projection's own row, as a switch-over does), and take each stream's C from the row of
 *   the segment its id hashes to.
 */
import type { ClientBase } from 'pg';
import type { EventStore, RecordedEvent } from '../eventstore';
import { catchUpPointOf, type CatchUpPoint } from '../eventstore/schema/readAll';
import { ALL_PROJECTIONS } from './all';
import { ensureProjection, readCheckpoint, readSegmentCheckpoints } from './checkpoints';
import { deadLetteredPositions, findProjection } from './deadLetters';
import { ReplayRefusedError } from './replayRefused';
import { inTransaction } from './transaction';
import { generationTable, type Projection, type ProjectionSource, type StreamRows } from './types';

/**
 * Streams per transaction: keeps the checkpoint lock (the runner's pause) short, and the
 * transaction too (it holds an xid, so catch-up readers see no newer append while it is open).
 */
const STREAMS_PER_TRANSACTION = 50;

export interface StreamRebuildResult {
  projection: string;
  generation: number;
  streams: number;
  /** Events re-applied (those the runner had applied; it applies the later ones itself). */
  events: number;
  /** The streams' events after the checkpoint: the runner has yet to apply them. */
  pending: number;
  /** The checkpoint the last chunk was rebuilt up to. */
  checkpoint: bigint;
}

export interface StreamRebuildOptions {
  projections?: readonly Projection[];
  /** Test hook: runs in each chunk's transaction after the checkpoint is read, before the rows go. */
  afterCheckpointRead?: () => Promise<void>;
}

export async function rebuildStreams(
  { pool, eventStore }: ProjectionSource,
  name: string,
  streamIds: readonly string[],
  options: StreamRebuildOptions = {},
): Promise<StreamRebuildResult> {
  const projection = findProjection(name, options.projections ?? ALL_PROJECTIONS);
  const rows = projection.streamRows;
  if (!rows) {
    throw new ReplayRefusedError(
      `projection ${name} does not say where a stream's row is (streamRows): rebuild it whole`,
    );
  }
  // Interpolated into the DELETE below: a code constant, but checked like one.
  if (!/^[a-z_][a-z0-9_]*$/.test(rows.column)) {
    throw new Error(`projection ${name}: streamRows.column is not an identifier`);
  }
  const streams = [...new Set(streamIds)];
  if (streams.length === 0) throw new ReplayRefusedError('--stream needs at least one stream id');
  for (const streamId of streams) keyOf(rows, name, streamId);
  const conn = await pool.connect();
  let broken: Error | undefined;
  try {
    await ensureProjection(conn, projection);
    await assertStreamsExist(conn, projection, streams);
    const result: StreamRebuildResult = {
      projection: name,
      generation: 0,
      streams: streams.length,
      events: 0,
      pending: 0,
      checkpoint: 0n,
    };
    for (let i = 0; i < streams.length; i += STREAMS_PER_TRANSACTION) {
      const chunk = streams.slice(i, i + STREAMS_PER_TRANSACTION);
      const done = await rebuildChunk(conn, eventStore, projection, rows, chunk, options);
      Object.assign(result, done, {
        events: result.events + done.events,
        pending: result.pending + done.pending,
      });
    }
    return result;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that failed mid-transaction must not go back to the pool.
    conn.release(broken);
  }
}

/** The row key of a stream (`order-42` → `42`), refusing streams of another type. */
function keyOf(rows: StreamRows, name: string, streamId: string): string {
  const key = streamId.startsWith(rows.streamPrefix)
    ? streamId.slice(rows.streamPrefix.length)
    : '';
  if (key === '') {
    throw new ReplayRefusedError(
      `stream ${JSON.stringify(streamId)} is not a ${name} stream (expected ${rows.streamPrefix}<id>)`,
    );
  }
  return key;
}

/** A mistyped id would silently rebuild nothing: refuse streams with no events of ours. */
async function assertStreamsExist(
  conn: ClientBase,
  projection: Projection,
  streams: readonly string[],
): Promise<void> {
  const found = await conn.query<{ stream_id: string }>(
    `SELECT DISTINCT stream_id FROM all_events WHERE stream_id = ANY($1) AND event_type = ANY($2)`,
    [streams, projection.eventTypes],
  );
  const known = new Set(found.rows.map((row) => row.stream_id));
  const missing = streams.filter((streamId) => !known.has(streamId));
  if (missing.length > 0) {
    throw new ReplayRefusedError(
      `no ${projection.name} events in stream(s) ${missing.join(', ')}: nothing to rebuild`,
    );
  }
}

async function rebuildChunk(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  rows: StreamRows,
  streams: readonly string[],
  options: StreamRebuildOptions,
): Promise<Omit<StreamRebuildResult, 'projection' | 'streams'>> {
  return inTransaction(conn, async () => {
    // The runner's lock: no batch and no switch-over commits until we do (see the top).
    const checkpoint = await readCheckpoint(conn, projection.name, true);
    if (!checkpoint) throw new Error(`no checkpoint row for projection ${projection.name}`);
    if (checkpoint.version !== projection.version) {
      throw new ReplayRefusedError(
        `projection ${projection.name} serves version ${checkpoint.version}, this code is version ${projection.version}: a full rebuild is due (the projector runs it on start)`,
      );
    }
    const pointOf = await checkpointPoints(conn, projection.name, checkpoint.position);
    await options.afterCheckpointRead?.();
    const table = generationTable(projection.name, checkpoint.generation);
    const keys = streams.map((streamId) => keyOf(rows, projection.name, streamId));
    await conn.query(`DELETE FROM ${table} WHERE ${rows.column} = ANY($1)`, [keys]);
    let events = 0;
    let pending = 0;
    for (const streamId of streams) {
      const point = await pointOf(streamId);
      const { applied, later } = await splitAtCheckpoint(conn, store, projection, streamId, point);
      for (const event of applied) await projection.handle(conn, event, table);
      events += applied.length;
      pending += later;
    }
    return { generation: checkpoint.generation, events, pending, checkpoint: checkpoint.position };
  });
}

/**
 * Where the runner stands for a stream: the projection's checkpoint, or for a split
 * projection the checkpoint of the stream's segment. Locks the segment rows (see the top).
 */
async function checkpointPoints(
  conn: ClientBase,
  name: string,
  position: bigint,
): Promise<(streamId: string) => Promise<CatchUpPoint>> {
  const segments = await readSegmentCheckpoints(conn, name, true);
  if (segments.length === 0) {
    const point = await catchUpPointOf(conn, position);
    return async () => point;
  }
  const points = await Promise.all(segments.map((row) => catchUpPointOf(conn, row.position)));
  return async (streamId) => {
    const { rows } = await conn.query<{ segment: number }>(
      'SELECT abs(hashtextextended($1, 0) % $2::int)::int AS segment',
      [streamId, segments.length],
    );
    const point = points[rows[0]!.segment];
    if (!point) throw new Error(`no checkpoint row for segment ${rows[0]!.segment} of ${name}`);
    return point;
  };
}

/**
 * The stream's events of the projection's types at or before the checkpoint's point of the
 * catch-up order, without dead letters (`applied`), and how many come after it (`later`). A cursor that is no event (readAll.ts) also never
 * hands out the positions at or below it, so those count as passed too.
 */
async function splitAtCheckpoint(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  streamId: string,
  point: CatchUpPoint,
): Promise<{ applied: RecordedEvent[]; later: number }> {
  const types = new Set(projection.eventTypes);
  const pointTx = BigInt(point.transactionId);
  const pointPosition = BigInt(point.position);
  const floor = BigInt(point.floor);
  const passed = (event: RecordedEvent) =>
    event.globalPosition <= floor ||
    event.transactionId < pointTx ||
    (event.transactionId === pointTx && event.globalPosition <= pointPosition);
  const ours = (await store.readStream(streamId)).filter((event) => types.has(event.type));
  const events = ours.filter(passed);
  const skipped = await deadLetteredPositions(
    conn,
    projection.name,
    events.map((event) => event.globalPosition),
  );
  return {
    applied: events.filter((event) => !skipped.has(event.globalPosition)),
    later: ours.length - events.length,
  };
}
