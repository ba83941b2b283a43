/**
 * Builds a projection's read model into a scratch table from part of the log, for analysis
 * and time travel, without touching the live generation or its checkpoint:
 * - `replay <name> --from <ISO> --to <ISO> [--types A,B] --into <table>`: the events
 *   recorded in [from, to] (both inclusive, millisecond precision) of those types;
 * - `rebuild <name> --as-of <ISO>`: every event recorded up to that instant (asOfTable names
 *   the table unless --into does).
 * Events are applied in catch-up order with the projection's own handler, in one
 * transaction per batch (a long transaction would hold back every catch-up reader), and
 * dead-lettered events are left out, as a rebuild does. "Recorded" is the events'
 * created_at (the appending statement's clock_timestamp()): an append still uncommitted at
 * `to` counts once it commits, with its own time.
 *
 * Handlers build a stream's row from its first event (version guard): a range that starts
 * after a stream began, or types that skip a stream's versions, leave that row out or at the
 * last version reached without a gap.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientBase } from 'pg';
import type { EventStore, RecordedEvent } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import { deadLetteredPositions, findProjection } from './deadLetters';
import { ReplayRefusedError } from './replayRefused';
import { inTransaction } from './transaction';
import type { Projection, ProjectionSource } from './types';

export interface ScratchReplayRequest {
  /** Inclusive; absent: from the start of the log. */
  from?: Date;
  /** Inclusive at millisecond precision; absent: up to the last event when the replay starts. */
  to?: Date;
  /** A subset of the projection's event types; absent: all of them. */
  eventTypes?: readonly string[];
  /** The scratch table; must be a new name unless `replace`. */
  into: string;
  /** Drop and rebuild `into` if it is a scratch table an earlier replay made. */
  replace?: boolean;
}

export interface ScratchReplayProgress {
  projection: string;
  table: string;
  done: number;
  /** Events of the selection in the store (an estimate while appends arrive). */
  total: number;
  eventsPerSecond: number;
}

export interface ScratchReplayResult {
  projection: string;
  table: string;
  events: number;
  seconds: number;
}

export interface ScratchReplayOptions {
  projections?: readonly Projection[];
  batchSize?: number;
}

/** Same rule as projection names: an index name `<table>_<column>_idx` stays below 63 bytes. */
const SCRATCH_TABLE = /^[a-z_][a-z0-9_]{0,40}$/;
/** Marks the tables a replay made, so --replace can never drop anything else. */
const SCRATCH_MARK = 'sagaflow scratch read model';

/** The default table of `rebuild <name> --as-of`: `<name>_asof_20261201_153000`. */
export function asOfTable(name: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '_');
  return `${name}_asof_${stamp}`;
}

export async function replayIntoScratch(
  { pool, eventStore }: ProjectionSource,
  name: string,
  request: ScratchReplayRequest,
  onProgress?: (progress: ScratchReplayProgress) => void,
  options: ScratchReplayOptions = {},
): Promise<ScratchReplayResult> {
  const projections = options.projections ?? ALL_PROJECTIONS;
  const projection = findProjection(name, projections);
  const selection = selectionOf(projection, projections, request);
  const conn = await pool.connect();
  let broken: Error | undefined;
  try {
    // A scan of the whole log is legitimate work here (as in a rebuild): no statement timeout.
    await conn.query('SET statement_timeout = 0');
    await prepareTable(conn, projection, selection);
    try {
      return await replay(conn, eventStore, projection, selection, options, onProgress);
    } catch (error) {
      // A half-built table would pass for a result: it goes.
      await conn.query(`DROP TABLE IF EXISTS ${selection.into}`).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    await conn.query('RESET statement_timeout').catch(() => undefined);
    conn.release(broken);
  }
}

interface Selection extends ScratchReplayRequest {
  eventTypes: readonly string[];
}

/** Checks the request before anything is written; every refusal names what is wrong. */
function selectionOf(
  projection: Projection,
  projections: readonly Projection[],
  request: ScratchReplayRequest,
): Selection {
  const { from, to, into } = request;
  for (const [flag, at] of [
    ['--from', from],
    ['--to', to],
  ] as const) {
    if (at && Number.isNaN(at.getTime())) throw new ReplayRefusedError(`${flag} is no valid date`);
  }
  if (from && to && from > to) {
    throw new ReplayRefusedError(`--from ${from.toISOString()} is after --to ${to.toISOString()}`);
  }
  if (!SCRATCH_TABLE.test(into)) {
    throw new ReplayRefusedError(
      `--into ${JSON.stringify(into)} is no safe table name: lower-case letters, digits and _, starting with a letter or _, at most 41 characters`,
    );
  }
  const owner = projections.find((p) => new RegExp(`^${p.name}(_g[0-9]+)?$`).test(into));
  if (owner) {
    throw new ReplayRefusedError(
      `--into ${into} is a name of projection ${owner.name}'s own view or generation tables`,
    );
  }
  const unknown = (request.eventTypes ?? []).filter((t) => !projection.eventTypes.includes(t));
  if (unknown.length > 0) {
    throw new ReplayRefusedError(
      `--types ${unknown.join(',')}: not event types of ${projection.name} (${projection.eventTypes.join(', ')})`,
    );
  }
  const eventTypes = request.eventTypes?.length ? request.eventTypes : projection.eventTypes;
  return { ...request, eventTypes };
}

/** Creates the scratch table, refusing to overwrite anything but an earlier scratch table. */
async function prepareTable(conn: ClientBase, projection: Projection, selection: Selection) {
  await inTransaction(conn, async () => {
    // Two replays into one new name: the second waits, then finds the table (createTables
    // says IF NOT EXISTS, so without this both would write into it).
    await conn.query(
      "SELECT pg_advisory_xact_lock(hashtextextended('sagaflow-scratch:' || $1, 0))",
      [selection.into],
    );
    const existing = await conn.query<{ kind: string; note: string | null }>(
      `SELECT c.relkind AS kind, obj_description(c.oid, 'pg_class') AS note
         FROM pg_class c WHERE c.oid = to_regclass($1)`,
      [selection.into],
    );
    const found = existing.rows[0];
    if (found) {
      if (!selection.replace) {
        throw new ReplayRefusedError(
          `table ${selection.into} exists: pass --replace to rebuild it, or choose another --into`,
        );
      }
      if (found.kind !== 'r' || !found.note?.startsWith(SCRATCH_MARK)) {
        throw new ReplayRefusedError(
          `${selection.into} is not a scratch table made by a replay: refusing to replace it`,
        );
      }
      await conn.query(`DROP TABLE ${selection.into}`);
    }
    await projection.createTables(conn, selection.into);
    await conn.query(
      `COMMENT ON TABLE ${selection.into} IS ${conn.escapeLiteral(describe(projection, selection, 'building'))}`,
    );
  });
}

function describe(projection: Projection, selection: Selection, state: string): string {
  return `${SCRATCH_MARK} (${state}): ${projection.name} v${projection.version}, recorded ${selection.from?.toISOString() ?? 'start'} .. ${selection.to?.toISOString() ?? 'end'}, types ${selection.eventTypes.join(',')}`;
}

/** A point of the catch-up order: (transaction id, global position). */
interface Point {
  tx: bigint;
  position: bigint;
}

const isBefore = (event: RecordedEvent, point: Point): boolean =>
  event.transactionId < point.tx ||
  (event.transactionId === point.tx && event.globalPosition < point.position);

const HELD_BACK_WAIT_MS = 100;

async function replay(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  selection: Selection,
  options: ScratchReplayOptions,
  onProgress?: (progress: ScratchReplayProgress) => void,
): Promise<ScratchReplayResult> {
  const started = performance.now();
  const total = onProgress ? await countSelected(conn, selection) : 0;
  let done = 0;
  const report = () => {
    const seconds = (performance.now() - started) / 1000;
    onProgress?.({
      projection: projection.name,
      table: selection.into,
      done,
      total: Math.max(total, done),
      eventsPerSecond: seconds > 0 ? done / seconds : 0,
    });
  };
  report();
  const bounds = await boundsOf(conn, selection);
  for (let after = bounds?.after ?? 0n, reached = !bounds; !reached;) {
    const read = await store.readAll({
      after,
      limit: options.batchSize ?? 1000,
      eventTypes: selection.eventTypes,
    });
    if (read.lastPosition === after) {
      // The last selected event is committed but held back (an older transaction of the
      // cluster is still open, see the event store): readAll hands it out once that ends.
      await sleep(HELD_BACK_WAIT_MS);
      continue;
    }
    reached = read.events.some((event) => !isBefore(event, bounds!.last));
    const events = await withoutDeadLetters(
      conn,
      projection,
      read.events.filter((event) => inRange(event, selection, bounds!.last)),
    );
    await inTransaction(conn, async () => {
      for (const event of events) await projection.handle(conn, event, selection.into);
    });
    done += events.length;
    after = read.lastPosition;
    report();
  }
  await conn.query(
    `COMMENT ON TABLE ${selection.into} IS ${conn.escapeLiteral(describe(projection, selection, 'complete'))}`,
  );
  return {
    projection: projection.name,
    table: selection.into,
    events: done,
    seconds: (performance.now() - started) / 1000,
  };
}

/** JS Dates hold milliseconds (the driver truncates created_at's microseconds). */
function inRange(event: RecordedEvent, selection: Selection, last: Point): boolean {
  const at = event.createdAt.getTime();
  if (selection.from && at < selection.from.getTime()) return false;
  if (selection.to && at > selection.to.getTime()) return false;
  return (
    isBefore(event, last) ||
    (event.transactionId === last.tx && event.globalPosition === last.position)
  );
}

/** Same rule as rebuilds: events an operator skipped stay skipped. */
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
  return events.filter((event) => !skipped.has(event.globalPosition));
}

const TIME_FILTER = `event_type = ANY($1)
   AND ($2::timestamptz IS NULL OR created_at >= $2)
   AND ($3::timestamptz IS NULL OR created_at < $3::timestamptz + interval '1 millisecond')`;

const timeParameters = (selection: Selection) => [
  selection.eventTypes,
  selection.from ?? null,
  selection.to ?? null,
];

async function countSelected(conn: ClientBase, selection: Selection): Promise<number> {
  const result = await conn.query<{ n: string }>(
    `SELECT count(*) AS n FROM all_events WHERE ${TIME_FILTER}`,
    timeParameters(selection),
  );
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Where the walk starts and ends, so an old, narrow range does not read the whole log:
 * `after` is the event just before the first selected one in catch-up order (readAll then
 * starts exactly there), `last` the last selected one when the replay began (appends that
 * come later are not waited for). Undefined: nothing is selected.
 */
async function boundsOf(
  conn: ClientBase,
  selection: Selection,
): Promise<{ after: bigint; last: Point } | undefined> {
  const edge = async (descending: boolean) => {
    const result = await conn.query<{ tx: string; pos: string }>(
      `SELECT transaction_id AS tx, global_position AS pos FROM all_events WHERE ${TIME_FILTER}
        ORDER BY transaction_id ${descending ? 'DESC' : 'ASC'}, global_position ${descending ? 'DESC' : 'ASC'} LIMIT 1`,
      timeParameters(selection),
    );
    const row = result.rows[0];
    return row && { tx: BigInt(row.tx), position: BigInt(row.pos) };
  };
  const first = await edge(false);
  const last = await edge(true);
  if (!first || !last) return undefined;
  const before = await conn.query<{ pos: string }>(
    `SELECT global_position AS pos FROM all_events
      WHERE (transaction_id, global_position) < ($1::xid8, $2::bigint)
      ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    [first.tx.toString(), first.position.toString()],
  );
  return { after: BigInt(before.rows[0]?.pos ?? 0), last };
}
