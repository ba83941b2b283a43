/**
 * Archiving: moves the events of finished streams (finishedStreams.ts) whose last event is
 * older than ARCHIVE_AFTER from `events` to `events_archive`, byte for byte, in batches of
 * one transaction each (the move itself is the SQL function archive_streams, migration
 * 1700000001200). Archived streams still load and read (the store reads `all_events`); an
 * append to one is refused (StreamArchivedError, 409 STREAM_ARCHIVED).
 *
 * Read models that show live data only (Projection.liveOnly) read the hot table alone. A
 * stream is only archived once every such projection, live and rebuilding, has passed its
 * last event: archived under a reader part-way through it, the reader would miss its end.
 * Their checkpoint rows are locked (FOR SHARE) while a batch moves, so no rebuild can start
 * in between.
 */
import type { Pool, PoolClient } from 'pg';
import { catchUpPointOf } from '../eventstore/schema/readAll';
import { FINISHED_STREAM_RULES, isFinishedStream } from './finishedStreams';

export interface ArchiveOptions {
  /** Archive streams whose last event is at least this old (ARCHIVE_AFTER). */
  olderThanMs: number;
  /** Count what would move, move nothing. */
  dryRun?: boolean;
  /**
   * Streams moved per transaction (default 200). The transaction holds an xid, so catch-up
   * readers wait for events committed after it started until it ends: keep it short.
   */
  batchSize?: number;
  /** At most this many streams per run (default: all that qualify). */
  maxStreams?: number;
  /** Names of projections that skip archived streams (see the top of the file). */
  liveOnlyProjections?: readonly string[];
  now?: Date;
  log?: (message: string) => void;
}

export interface ArchiveResult {
  dryRun: boolean;
  /** Finished streams old enough, found by this run. */
  candidates: number;
  archivedStreams: number;
  archivedEvents: number;
  /** Candidates left in place: appended to meanwhile, or a live-only reader is not past them. */
  skipped: number;
  /** Another archiver was running: this run did nothing. */
  busy: boolean;
  seconds: number;
}

interface Candidate {
  stream_id: string;
  stream_type: string;
  version: number;
  event_type: string;
}

/** One archiver at a time across processes (a transaction-level advisory lock per batch). */
const ARCHIVER_LOCK = 7261747;

/**
 * Streams whose last event finishes their aggregate and is older than the cutoff. A scan of
 * the hot table (no index on event_type: appends would pay for it), once per run.
 */
async function findCandidates(pool: Pool, cutoff: Date, limit: number): Promise<Candidate[]> {
  const finishing = FINISHED_STREAM_RULES.flatMap((rule) => rule.finishingEvents);
  const result = await pool.query<Candidate>(
    `SELECT last.stream_id, last.stream_type, last.version, last.event_type
       FROM events last
      WHERE last.event_type = ANY($1) AND last.created_at < $2
        AND NOT EXISTS (SELECT 1 FROM events later
                         WHERE later.stream_id = last.stream_id AND later.version > last.version)
      ORDER BY last.global_position
      LIMIT $3`,
    [finishing, cutoff, limit],
  );
  // The same judgement as the domain's, per aggregate kind (the SQL only narrows the scan).
  return result.rows.filter((row) => isFinishedStream(row.stream_type, row.event_type));
}

/** Catch-up points of the live-only projections, or undefined when one has not started. */
async function liveOnlyReaderPoints(
  client: PoolClient,
  names: readonly string[],
): Promise<Array<{ tx: string; pos: string }> | undefined> {
  if (names.length === 0) return [];
  const rows = await client.query<{
    name: string;
    position: string;
    rebuild_position: string | null;
  }>(
    // A split projection's segment rows too: every segment must have passed a stream.
    `SELECT name, position, rebuild_position FROM projection_checkpoints
      WHERE name = ANY($1) OR projection = ANY($1) FOR SHARE`,
    [names],
  );
  if (!names.every((name) => rows.rows.some((row) => row.name === name))) return undefined;
  const positions = rows.rows.flatMap((row) => [
    row.position,
    row.rebuild_position ?? row.position,
  ]);
  const points = [];
  for (const position of positions) {
    const point = await catchUpPointOf(client, BigInt(position));
    points.push({ tx: point.transactionId, pos: point.position });
  }
  return points;
}

/** Of these streams, those every live-only reader has passed (last event before its point). */
async function passedByReaders(
  client: PoolClient,
  batch: readonly Candidate[],
  points: ReadonlyArray<{ tx: string; pos: string }>,
): Promise<Candidate[]> {
  if (points.length === 0) return [...batch];
  const passed = await client.query<{ stream_id: string }>(
    `SELECT e.stream_id FROM events e
      WHERE (e.stream_id, e.version) IN (SELECT * FROM unnest($1::text[], $2::int[]))
        AND NOT EXISTS (SELECT 1 FROM unnest($3::xid8[], $4::bigint[]) AS r(tx, pos)
                         WHERE (e.transaction_id, e.global_position) >= (r.tx, r.pos))`,
    [
      batch.map((c) => c.stream_id),
      batch.map((c) => c.version),
      points.map((p) => p.tx),
      points.map((p) => p.pos),
    ],
  );
  const ids = new Set(passed.rows.map((row) => row.stream_id));
  return batch.filter((candidate) => ids.has(candidate.stream_id));
}

/** Moves one batch in one transaction; returns [streams, events] moved, or undefined if busy. */
async function archiveBatch(
  pool: Pool,
  batch: readonly Candidate[],
  liveOnly: readonly string[],
  log: (message: string) => void,
): Promise<[number, number] | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const locked = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS locked',
      [ARCHIVER_LOCK],
    );
    if (!locked.rows[0]?.locked) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const points = await liveOnlyReaderPoints(client, liveOnly);
    if (!points) {
      log(`archive: a live-only projection (${liveOnly.join(', ')}) has not started; waiting`);
      await client.query('ROLLBACK');
      return [0, 0];
    }
    const movable = await passedByReaders(client, batch, points);
    const moved = await client.query<{ stream_id: string; events: number }>(
      'SELECT stream_id, events FROM archive_streams($1::text[], $2::int[])',
      [movable.map((c) => c.stream_id), movable.map((c) => c.version)],
    );
    await client.query('COMMIT');
    return [moved.rows.length, moved.rows.reduce((sum, row) => sum + row.events, 0)];
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** One archiving run (the `npm run archive` command and the scheduled job both call it). */
export async function archiveFinishedStreams(
  pool: Pool,
  options: ArchiveOptions,
): Promise<ArchiveResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const batchSize = options.batchSize ?? 200;
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.olderThanMs);
  const candidates = await findCandidates(pool, cutoff, options.maxStreams ?? 2 ** 31 - 1);
  const result: ArchiveResult = {
    dryRun: options.dryRun ?? false,
    candidates: candidates.length,
    archivedStreams: 0,
    archivedEvents: 0,
    skipped: 0,
    busy: false,
    seconds: 0,
  };
  log(`archive: ${candidates.length} finished streams last written before ${cutoff.toISOString()}`);
  if (!result.dryRun) {
    for (let from = 0; from < candidates.length; from += batchSize) {
      const moved = await archiveBatch(
        pool,
        candidates.slice(from, from + batchSize),
        options.liveOnlyProjections ?? [],
        log,
      );
      if (!moved) {
        result.busy = true;
        log('archive: another archiver is running; this run stops');
        break;
      }
      result.archivedStreams += moved[0];
      result.archivedEvents += moved[1];
    }
    result.skipped = result.busy ? 0 : candidates.length - result.archivedStreams;
  }
  result.seconds = (performance.now() - started) / 1000;
  log(
    `archive: ${result.dryRun ? 'would move' : 'moved'} ${result.dryRun ? result.candidates : result.archivedStreams} streams` +
      (result.dryRun ? '' : ` (${result.archivedEvents} events, ${result.skipped} skipped)`) +
      ` in ${result.seconds.toFixed(1)} s`,
  );
  return result;
}
