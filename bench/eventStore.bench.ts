import { randomUUID } from 'node:crypto';
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { Pool, types as pgTypes } from 'pg';
import {
  createPool,
  EventSchemaRegistry,
  loadAggregate,
  migrate,
  PostgresEventStore,
  snapshotIfDue,
  type AggregateDefinition,
  type NewEvent,
} from '../src/eventstore';
import { Type } from '../src/infra/typebox';
import { runConcurrently, type ConcurrentRunResult } from './support/concurrency';
import { round, summarizeLatencies } from './support/stats';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const CONCURRENCY = 16;
const STREAM_TYPE = 'order';

// Every target here builds a raw PostgresEventStore on purpose, not the system of
// src/system/createSystem.ts: this suite measures the store's append and load paths against
// Emmett and a bare INSERT, on made-up ItemAdded events the domain does not declare (the
// domain's store would refuse them). Each target says what it adds (schema checks, snapshots).
// The product as wired is measured by the http and sagas suites, which use the system.

// ---------------------------------------------------------------------------------------
// The events every target appends: same ids, payloads and metadata.

interface BenchEvent {
  eventId: string;
  type: 'ItemAdded';
  data: {
    orderId: string;
    sku: string;
    quantity: number;
    unitPriceCents: number;
    currency: string;
    note: string;
  };
  metadata: { correlation_id: string; causation_id: string };
}

interface AppendCall {
  streamId: string;
  events: BenchEvent[];
}

function makeCalls(count: number, eventsPerCall: number): AppendCall[] {
  return Array.from({ length: count }, () => {
    const orderId = randomUUID();
    const correlationId = randomUUID();
    return {
      streamId: `${STREAM_TYPE}-${orderId}`,
      events: Array.from({ length: eventsPerCall }, (_, index) => ({
        eventId: randomUUID(),
        type: 'ItemAdded' as const,
        data: {
          orderId,
          sku: `SKU-${10_000 + index}`,
          quantity: 1 + (index % 5),
          unitPriceCents: 1999,
          currency: 'EUR',
          note: 'benchmark payload of a typical size',
        },
        metadata: { correlation_id: correlationId, causation_id: correlationId },
      })),
    };
  });
}

// ---------------------------------------------------------------------------------------
// Targets: one fresh database each.

interface AppendTarget {
  name: 'ours' | 'validated' | 'bare' | 'emmett';
  append(call: AppendCall): Promise<void>;
  /** Events stored, to check every call really wrote. */
  countEvents(): Promise<number>;
  close(): Promise<void>;
}

async function oursTarget(context: BenchContext): Promise<AppendTarget> {
  const { url } = await context.databases.create('ours');
  await migrate(url);
  const pool = createPool(url, { max: CONCURRENCY, applicationName: 'bench-ours' });
  const store = new PostgresEventStore(pool);
  return {
    name: 'ours',
    async append({ streamId, events }) {
      await store.append(streamId, events satisfies NewEvent[], { expectedVersion: 'no_stream' });
    },
    countEvents: () => countRows(pool, 'events'),
    close: () => pool.end(),
  };
}

/** ItemAdded's schema, as strict as the domain's (see src/domain/order/eventSchemas.ts). */
const ITEM_ADDED_SCHEMAS = new EventSchemaRegistry({
  ItemAdded: [
    {
      version: 1,
      schema: Type.Object(
        {
          orderId: Type.String({ minLength: 1 }),
          sku: Type.String({ minLength: 1 }),
          quantity: Type.Integer({ minimum: 1 }),
          unitPriceCents: Type.Integer({ minimum: 0 }),
          currency: Type.String({ pattern: '^[A-Z]{3}$' }),
          note: Type.String(),
        },
        { additionalProperties: false },
      ),
    },
  ],
});

/** Ours with a schema registry: every append stamped with its version and checked. */
async function validatedTarget(context: BenchContext): Promise<AppendTarget> {
  const { url } = await context.databases.create('ours_validated');
  await migrate(url);
  const pool = createPool(url, { max: CONCURRENCY, applicationName: 'bench-validated' });
  const store = new PostgresEventStore(
    pool,
    ITEM_ADDED_SCHEMAS.upcasters,
    {},
    {
      schemas: ITEM_ADDED_SCHEMAS,
    },
  );
  return {
    name: 'validated',
    async append({ streamId, events }) {
      await store.append(streamId, events satisfies NewEvent[], { expectedVersion: 'no_stream' });
    },
    countEvents: () => countRows(pool, 'events'),
    close: () => pool.end(),
  };
}

const BARE_COLUMNS = [
  'stream_id',
  'stream_type',
  'version',
  'event_id',
  'event_type',
  'schema_version',
  'data',
  'metadata',
] as const;

/** INSERT ... VALUES ($1..$8), ($9..$16), ... for n rows, built once per batch size. */
function bareInsertSql(rows: number): string {
  const width = BARE_COLUMNS.length;
  const tuples = Array.from(
    { length: rows },
    (_, row) =>
      `(${Array.from({ length: width }, (__, column) => `$${row * width + column + 1}`).join(', ')})`,
  );
  return `INSERT INTO bare_events (${BARE_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
}

/**
 * The floor: a plain parameterized multi-row INSERT into a copy of our events table
 * (same columns, defaults, constraints and indexes; no trigger, no function, no checks).
 */
async function bareTarget(context: BenchContext): Promise<AppendTarget> {
  const { url } = await context.databases.create('bare');
  await migrate(url); // only so that bare_events can copy the events table exactly
  const pool = createPool(url, { max: CONCURRENCY, applicationName: 'bench-bare' });
  await pool.query('CREATE TABLE bare_events (LIKE events INCLUDING ALL)');
  const indexes = await pool.query<{ table: string; count: string }>(
    `SELECT tablename AS table, count(*) AS count FROM pg_indexes
      WHERE tablename IN ('events', 'bare_events') GROUP BY tablename`,
  );
  const counts = new Set(indexes.rows.map((row) => row.count));
  if (indexes.rows.length !== 2 || counts.size !== 1) {
    throw new Error(
      `bare_events does not mirror the indexes of events: ${JSON.stringify(indexes.rows)}`,
    );
  }
  const sqlByRows = new Map<number, string>();
  return {
    name: 'bare',
    async append({ streamId, events }) {
      let sql = sqlByRows.get(events.length);
      if (!sql) sqlByRows.set(events.length, (sql = bareInsertSql(events.length)));
      const values: unknown[] = [];
      events.forEach((event, index) => {
        values.push(
          streamId,
          STREAM_TYPE,
          index + 1,
          event.eventId,
          event.type,
          1,
          JSON.stringify(event.data),
          JSON.stringify(event.metadata),
        );
      });
      await pool.query(sql, values);
    },
    countEvents: () => countRows(pool, 'bare_events'),
    close: () => pool.end(),
  };
}

const PARSED_TYPES = [20 /* int8 */, 114 /* json */, 3802 /* jsonb */] as const;
type TypeParser = (value: string) => unknown;
type TypeParsers = Map<number, TypeParser>;

function currentParsers(): TypeParsers {
  return new Map(
    PARSED_TYPES.map((oid): [number, TypeParser] => [
      oid,
      pgTypes.getTypeParser(oid, 'text') as TypeParser,
    ]),
  );
}

/**
 * Emmett's PostgreSQL event store, on a pg Pool of the same size. Emmett's driver (dumbo)
 * replaces pg's *global* int8/json/jsonb parsers; we give those parsers to Emmett's pool
 * only and put the defaults back, so the other targets run exactly as in production.
 */
async function emmettTarget(context: BenchContext): Promise<AppendTarget> {
  const { url } = await context.databases.create('emmett');
  const defaults = currentParsers();
  const emmettParsers: TypeParsers = new Map();
  // createPool's settings, plus parsers of its own.
  const pool = new Pool({
    connectionString: url,
    max: CONCURRENCY,
    idle_in_transaction_session_timeout: 10_000,
    application_name: 'bench-emmett',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary'): TypeParser =>
        emmettParsers.get(oid) ??
        (pgTypes.getTypeParser(oid, format) as TypeParser)) as typeof pgTypes.getTypeParser,
    },
  });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  for (const [oid, parser] of currentParsers()) emmettParsers.set(oid, parser);
  for (const [oid, parser] of defaults) pgTypes.setTypeParser(oid, 'text', parser);
  await store.schema.migrate();
  return {
    name: 'emmett',
    async append({ streamId, events }) {
      await store.appendToStream(
        streamId,
        events.map(({ type, data, metadata }) => ({ type, data, metadata })),
        { expectedStreamVersion: STREAM_DOES_NOT_EXIST },
      );
    },
    countEvents: () => countRows(pool, 'emt_messages'),
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

async function countRows(pool: Pool, table: string): Promise<number> {
  const result = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${table}`);
  return Number(result.rows[0]?.count ?? 0);
}

// ---------------------------------------------------------------------------------------
// Appends

interface AppendMeasurement {
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

/** Measured calls are split in this many rounds; see measureAppends. */
const ROUNDS = 4;

/**
 * Runs every target on the same calls. The measured calls are split in ROUNDS rounds,
 * every other one in reverse target order, so drift and noise over the run (fsync
 * latency, WAL, autovacuum, page cache) fall on every target alike.
 */
async function measureAppends(
  context: BenchContext,
  targets: readonly AppendTarget[],
  eventsPerCall: number,
  calls: number,
): Promise<Map<AppendTarget['name'], AppendMeasurement>> {
  const warmupCalls = Math.max(CONCURRENCY * 4, Math.round(calls / 10));
  const measured = makeCalls(calls, eventsPerCall);
  const perRound = Math.ceil(calls / ROUNDS);
  const rounds = Array.from({ length: ROUNDS }, (_, round) =>
    measured.slice(round * perRound, (round + 1) * perRound),
  ).filter((round) => round.length > 0);
  const runs = new Map<AppendTarget['name'], ConcurrentRunResult[]>();

  for (const target of targets) {
    const warmup = makeCalls(warmupCalls, eventsPerCall);
    await runConcurrently({
      label: `warm-up ${target.name} ×${eventsPerCall}`,
      calls: warmup.length,
      concurrency: CONCURRENCY,
      call: (index) => target.append(warmup[index]!),
    });
  }
  for (const [roundIndex, roundCalls] of rounds.entries()) {
    const order = roundIndex % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const result = await runConcurrently({
        label: `append ${target.name} ×${eventsPerCall} round ${roundIndex + 1}`,
        calls: roundCalls.length,
        concurrency: CONCURRENCY,
        call: (index) => target.append(roundCalls[index]!),
      });
      runs.set(target.name, [...(runs.get(target.name) ?? []), result]);
    }
  }

  const measurements = new Map<AppendTarget['name'], AppendMeasurement>();
  for (const target of targets) {
    const results = runs.get(target.name) ?? [];
    const elapsedMs = results.reduce((sum, result) => sum + result.elapsedMs, 0);
    const latencies = results.flatMap((result) => Array.from(result.latenciesMs));
    const summary = summarizeLatencies(latencies);
    const rate = ((calls * eventsPerCall) / elapsedMs) * 1000;
    measurements.set(target.name, { rate, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms });
    context.log(
      `  ${target.name.padEnd(6)} ×${eventsPerCall}: ${Math.round(rate)} events/s, ` +
        `p50 ${summary.p50Ms.toFixed(2)} ms, p99 ${summary.p99Ms.toFixed(2)} ms`,
    );
  }
  return measurements;
}

function appendEntry(
  ours: AppendMeasurement,
  baseline: AppendMeasurement,
  details: Record<string, unknown>,
): ReturnType<typeof compare> {
  const r = (m: AppendMeasurement) => ({
    rate: Math.round(m.rate),
    p50Ms: round(m.p50Ms),
    p99Ms: round(m.p99Ms),
  });
  const entry = compare(r(ours), r(baseline), 'events/s', details);
  return { ...entry, ratio: round(ours.rate / baseline.rate) };
}

// ---------------------------------------------------------------------------------------
// Loading a 10,000-event aggregate

interface CounterState {
  count: number;
  total: number;
}
type CounterEvent = { type: 'Incremented'; data: { by: number } };

const STREAM_LENGTH = 10_000;

const counter: AggregateDefinition<CounterState, CounterEvent> = {
  streamType: 'counter',
  initialState: () => ({ count: 0, total: 0 }),
  evolve: (state, event) => ({ count: state.count + 1, total: state.total + event.data.by }),
  snapshot: { every: 1000, stateSchemaVersion: 1 },
};
const { snapshot: _snapshotPolicy, ...counterWithoutSnapshots } = counter;

async function measureLoads(context: BenchContext): Promise<BenchEntries> {
  const { url } = await context.databases.create('ours_load');
  await migrate(url);
  const pool = createPool(url, { max: CONCURRENCY, applicationName: 'bench-load' });
  try {
    const store = new PostgresEventStore(pool);
    const streamId = `counter-${randomUUID()}`;
    let state = counter.initialState();
    let version = 0;
    const batch = 1000;
    while (version < STREAM_LENGTH) {
      const events: NewEvent[] = Array.from({ length: batch }, (_, index) => ({
        eventId: randomUUID(),
        type: 'Incremented',
        data: { by: ((version + index) % 7) + 1 },
      }));
      const { nextExpectedVersion } = await store.append(streamId, events, {
        expectedVersion: version === 0 ? 'no_stream' : version,
      });
      for (const event of events) state = counter.evolve(state, event as CounterEvent);
      await snapshotIfDue(store, streamId, counter, state, version, nextExpectedVersion);
      version = nextExpectedVersion;
    }
    await pool.query('ANALYZE events, snapshots');

    const expected = state;
    const check = (
      loaded: Awaited<ReturnType<typeof loadAggregate<CounterState, CounterEvent>>>,
    ) => {
      if (loaded.version !== STREAM_LENGTH || loaded.state.total !== expected.total) {
        throw new Error(
          `load returned ${JSON.stringify(loaded)}, expected ${JSON.stringify(expected)}`,
        );
      }
    };
    const loadWithSnapshot = async () => {
      const loaded = await loadAggregate(store, streamId, counter);
      if (loaded.snapshotVersion !== STREAM_LENGTH) throw new Error('snapshot was not used');
      check(loaded);
    };
    const loadFull = async () => {
      const loaded = await loadAggregate(store, streamId, counterWithoutSnapshots);
      if (loaded.snapshotVersion !== undefined) throw new Error('full replay used a snapshot');
      check(loaded);
    };

    // One caller: loads/s is then the inverse of a load's latency.
    const run = async (label: string, calls: number, load: () => Promise<void>) => {
      await runConcurrently({
        label: `warm-up ${label}`,
        calls: Math.max(3, Math.round(calls / 10)),
        concurrency: 1,
        call: load,
      });
      const result = await runConcurrently({ label, calls, concurrency: 1, call: load });
      const summary = summarizeLatencies(result.latenciesMs);
      context.log(
        `  ${label}: ${result.callsPerSecond.toFixed(1)} loads/s, ` +
          `p50 ${summary.p50Ms.toFixed(2)} ms, p99 ${summary.p99Ms.toFixed(2)} ms`,
      );
      return { rate: result.callsPerSecond, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms, calls };
    };
    const withSnapshot = await run(
      'load 10k with snapshot',
      context.scaled(2000, 50),
      loadWithSnapshot,
    );
    const full = await run('load 10k full replay', context.scaled(40, 5), loadFull);

    const entry = compare(
      {
        rate: round(withSnapshot.rate),
        p50Ms: round(withSnapshot.p50Ms),
        p99Ms: round(withSnapshot.p99Ms),
      },
      { rate: round(full.rate), p50Ms: round(full.p50Ms), p99Ms: round(full.p99Ms) },
      'loads/s',
      {
        streamLength: STREAM_LENGTH,
        concurrency: 1,
        oursCalls: withSnapshot.calls,
        baselineCalls: full.calls,
      },
    );
    return { load10k_snapshot_vs_full: { ...entry, ratio: round(withSnapshot.rate / full.rate) } };
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------
// Appending to a long-lived stream (a merchant's revenue account) vs a young one

const LONG_STREAM = 20_000;

async function measureLongStreamAppends(context: BenchContext): Promise<BenchEntries> {
  const { url } = await context.databases.create('ours_long_stream');
  await migrate(url);
  const pool = createPool(url, { max: 2, applicationName: 'bench-long-stream' });
  try {
    const store = new PostgresEventStore(pool);
    const event = (): NewEvent => ({ eventId: randomUUID(), type: 'Credited', data: { by: 1 } });
    const versions = new Map<string, number>();
    const appendOne = async (streamId: string) => {
      const version = versions.get(streamId) ?? 0;
      const { nextExpectedVersion } = await store.append(streamId, [event()], {
        expectedVersion: version,
      });
      versions.set(streamId, nextExpectedVersion);
    };
    const long = `account-${randomUUID()}`;
    for (let version = 0; version < LONG_STREAM; version += 1000) {
      await store.append(long, Array.from({ length: 1000 }, event), { expectedVersion: version });
    }
    versions.set(long, LONG_STREAM);
    const short = `account-${randomUUID()}`;
    await store.append(short, [event()], { expectedVersion: 0 });
    versions.set(short, 1);
    await pool.query('ANALYZE events');

    // One caller, so a call's rate is the inverse of its latency; rounds alternate.
    const calls = context.scaled(2000, 400);
    const results = new Map<string, ConcurrentRunResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [long, short] : [short, long];
      for (const streamId of order) {
        const label = streamId === long ? 'long' : 'short';
        const result = await runConcurrently({
          label: `append to ${label} stream, round ${round + 1}`,
          calls: Math.ceil(calls / ROUNDS),
          concurrency: 1,
          call: () => appendOne(streamId),
        });
        results.set(label, [...(results.get(label) ?? []), result]);
      }
    }
    const measure = (label: string) => {
      const runs = results.get(label) ?? [];
      const elapsedMs = runs.reduce((sum, run) => sum + run.elapsedMs, 0);
      const latencies = runs.flatMap((run) => Array.from(run.latenciesMs));
      const summary = summarizeLatencies(latencies);
      return {
        rate: round((latencies.length / elapsedMs) * 1000),
        p50Ms: round(summary.p50Ms),
        p99Ms: round(summary.p99Ms),
      };
    };
    return {
      append_long_stream_vs_short: compare(measure('long'), measure('short'), 'appends/s', {
        goal: 0.9,
        streamLength: LONG_STREAM,
        concurrency: 1,
      }),
    };
  } finally {
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------

export const eventStoreSuite: BenchSuite = {
  name: 'eventstore',
  description:
    'appends (ours vs a bare INSERT vs Emmett), aggregate loads (snapshot vs full replay), appends to a long stream',
  async run(context) {
    const targets: AppendTarget[] = [];
    try {
      targets.push(
        await oursTarget(context),
        await validatedTarget(context),
        await bareTarget(context),
        await emmettTarget(context),
      );
      const entries: BenchEntries = {};
      const counted = new Map<AppendTarget['name'], number>();

      for (const { eventsPerCall, baseCalls } of [
        { eventsPerCall: 1, baseCalls: 4000 },
        { eventsPerCall: 10, baseCalls: 2000 },
      ]) {
        const calls = context.scaled(baseCalls, 2 * CONCURRENCY);
        context.log(
          `appends of ${eventsPerCall} event(s) per call: ${calls} calls, ${CONCURRENCY} callers`,
        );
        const m = await measureAppends(context, targets, eventsPerCall, calls);
        const ours = m.get('ours')!;
        const details = { eventsPerCall, calls, concurrency: CONCURRENCY };
        entries[`append${eventsPerCall}_vs_bare`] = appendEntry(ours, m.get('bare')!, {
          ...details,
          ...(eventsPerCall === 10 && { goal: 0.6 }),
        });
        // The cost of schema validation: the same store and events, checked or not.
        entries[`append${eventsPerCall}_validated_vs_unvalidated`] = appendEntry(
          m.get('validated')!,
          ours,
          details,
        );
        entries[`append${eventsPerCall}_vs_emmett`] = appendEntry(ours, m.get('emmett')!, {
          ...details,
          goal: 1.0,
        });
        const warmupCalls = Math.max(CONCURRENCY * 4, Math.round(calls / 10));
        for (const target of targets) {
          counted.set(
            target.name,
            (counted.get(target.name) ?? 0) + (calls + warmupCalls) * eventsPerCall,
          );
        }
      }
      for (const target of targets) {
        const stored = await target.countEvents();
        if (stored !== counted.get(target.name)) {
          throw new Error(
            `${target.name} stored ${stored} events, expected ${counted.get(target.name)}`,
          );
        }
      }

      context.log('loading a 10,000-event stream');
      Object.assign(entries, await measureLoads(context));
      context.log(`appending to a ${LONG_STREAM}-event stream and to a young one`);
      Object.assign(entries, await measureLongStreamAppends(context));
      return entries;
    } finally {
      for (const target of targets) await target.close();
    }
  },
};
