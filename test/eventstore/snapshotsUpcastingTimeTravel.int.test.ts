import {
  eventIdFor,
  loadAggregate,
  PostgresEventStore,
  snapshotIfDue,
  UpcasterRegistry,
  type AggregateDefinition,
  type DomainEvent,
} from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

type CounterEvent = DomainEvent<'Added', { by: number }>;
interface Counter {
  total: number;
  count: number;
}
const counter = (stateSchemaVersion = 1): AggregateDefinition<Counter, CounterEvent> => ({
  streamType: 'counter',
  initialState: () => ({ total: 0, count: 0 }),
  evolve: (state, event) => ({ total: state.total + event.data.by, count: state.count + 1 }),
  snapshot: { every: 10, stateSchemaVersion },
});

describe('event store: snapshots, upcasting and time travel', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('snapshots');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('loads snapshot + tail to the same state as a full replay', async () => {
    const definition = counter();
    let version = 0;
    for (let i = 1; i <= 25; i++) {
      const loaded = await loadAggregate(db.genericEventStore, 'counter-1', definition);
      const result = await db.genericEventStore.append(
        'counter-1',
        [{ eventId: eventIdFor(`add-${i}`, 0), type: 'Added', data: { by: i } }],
        { expectedVersion: loaded.version },
      );
      const state = definition.evolve(loaded.state, { type: 'Added', data: { by: i } });
      await snapshotIfDue(
        db.genericEventStore,
        'counter-1',
        definition,
        state,
        loaded.version,
        result.nextExpectedVersion,
      );
      version = result.nextExpectedVersion;
    }
    const snapshot = await db.genericEventStore.readSnapshot('counter-1');
    expect(snapshot?.version).toBe(20);

    const withSnapshot = await loadAggregate(db.genericEventStore, 'counter-1', definition);
    const fullReplay = await loadAggregate(db.genericEventStore, 'counter-1', {
      ...definition,
      snapshot: undefined,
    });
    expect(withSnapshot.snapshotVersion).toBe(20);
    expect(fullReplay.snapshotVersion).toBeUndefined();
    expect(withSnapshot.state).toEqual(fullReplay.state);
    expect(withSnapshot.state).toEqual({ total: 325, count: 25 });
    expect(withSnapshot.version).toBe(version);
  });

  it('ignores a snapshot whose state schema version is stale', async () => {
    await db.genericEventStore.writeSnapshot({
      streamId: 'counter-2',
      streamType: 'counter',
      version: 1,
      stateSchemaVersion: 1,
      state: { total: 999, count: 1 }, // deliberately wrong, to prove it is not used
    });
    await db.genericEventStore.append(
      'counter-2',
      [{ eventId: eventIdFor('c2', 0), type: 'Added', data: { by: 5 } }],
      {
        expectedVersion: 'no_stream',
      },
    );
    const v2 = await loadAggregate(db.genericEventStore, 'counter-2', counter(2));
    expect(v2.snapshotVersion).toBeUndefined();
    expect(v2.state).toEqual({ total: 5, count: 1 });
  });

  it('reads the snapshot and the events after it in one round trip', async () => {
    const definition = counter();
    const append = (i: number) =>
      db.genericEventStore.append(
        'counter-4',
        [{ eventId: eventIdFor(`c4-${i}`, 0), type: 'Added', data: { by: i } }],
        { expectedVersion: i - 1 },
      );
    for (let i = 1; i <= 10; i++) await append(i);
    await db.genericEventStore.writeSnapshot({
      streamId: 'counter-4',
      streamType: 'counter',
      version: 10,
      stateSchemaVersion: 1,
      state: { total: 55, count: 10 },
    });
    const queries = jest.spyOn(db.pool, 'query');
    try {
      const atSnapshot = await loadAggregate(db.genericEventStore, 'counter-4', definition);
      expect(atSnapshot).toMatchObject({ version: 10, snapshotVersion: 10, tail: [] });
      expect(queries).toHaveBeenCalledTimes(1);

      await append(11);
      queries.mockClear();
      const afterSnapshot = await loadAggregate(db.genericEventStore, 'counter-4', definition);
      expect(afterSnapshot.state).toEqual({ total: 66, count: 11 });
      expect(afterSnapshot.tail.map((event) => event.version)).toEqual([11]);
      expect(queries).toHaveBeenCalledTimes(1);
    } finally {
      queries.mockRestore();
    }
  });

  it('does not replace a newer snapshot with an older one', async () => {
    const base = { streamId: 'counter-3', streamType: 'counter', stateSchemaVersion: 1 };
    await db.genericEventStore.writeSnapshot({
      ...base,
      version: 30,
      state: { total: 30, count: 30 },
    });
    await db.genericEventStore.writeSnapshot({
      ...base,
      version: 20,
      state: { total: 20, count: 20 },
    });
    expect((await db.genericEventStore.readSnapshot('counter-3'))?.version).toBe(30);
  });

  it('upcasts old schema versions on read through a chain, leaving stored rows unchanged', async () => {
    // v1 { fullName }, v2 { firstName, lastName }, v3 adds { displayName }.
    const upcasters = new UpcasterRegistry()
      .register('CustomerRegistered', 1, (data) => {
        const { fullName } = data as { fullName: string };
        const [firstName = '', ...rest] = fullName.split(' ');
        return { firstName, lastName: rest.join(' ') };
      })
      .register('CustomerRegistered', 2, (data) => {
        const v2 = data as { firstName: string; lastName: string };
        return { ...v2, displayName: `${v2.firstName} ${v2.lastName.charAt(0)}.` };
      });
    const store = new PostgresEventStore(db.pool, upcasters);
    expect(upcasters.currentVersion('CustomerRegistered')).toBe(3);

    await store.append(
      'customer-1',
      [
        {
          eventId: eventIdFor('cust', 0),
          type: 'CustomerRegistered',
          schemaVersion: 1,
          data: { fullName: 'Ada King Lovelace' },
        },
        {
          eventId: eventIdFor('cust', 1),
          type: 'CustomerRegistered',
          schemaVersion: 2,
          data: { firstName: 'Grace', lastName: 'Hopper' },
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    const read = await store.readStream('customer-1');
    expect(read.map((e) => [e.schemaVersion, e.data])).toEqual([
      [3, { firstName: 'Ada', lastName: 'King Lovelace', displayName: 'Ada K.' }],
      [3, { firstName: 'Grace', lastName: 'Hopper', displayName: 'Grace H.' }],
    ]);
    const raw = await db.pool.query<{ schema_version: number; data: unknown }>(
      "SELECT schema_version, data FROM events WHERE stream_id = 'customer-1' ORDER BY version",
    );
    expect(raw.rows).toEqual([
      { schema_version: 1, data: { fullName: 'Ada King Lovelace' } },
      { schema_version: 2, data: { firstName: 'Grace', lastName: 'Hopper' } },
    ]);
    const viaReadAll = await store.readAll({ after: 0n, limit: 1000 });
    expect(viaReadAll.events.find((e) => e.streamId === 'customer-1')?.schemaVersion).toBe(3);
    expect((await store.readStream('customer-1', { raw: true }))[0]?.schemaVersion).toBe(1);
  });

  it('reads a stream as it was at a point in time', async () => {
    const append = (i: number) =>
      db.genericEventStore.append(
        'clock-1',
        [{ eventId: eventIdFor('clock', i), type: 'Added', data: { by: i } }],
        {
          expectedVersion: i - 1,
        },
      );
    await append(1);
    await append(2);
    const [, second] = await db.genericEventStore.readStream('clock-1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await append(3);

    const asOfSecond = await db.genericEventStore.readStream('clock-1', { at: second?.createdAt });
    expect(asOfSecond.map((e) => e.version)).toEqual([1, 2]);
    const beforeAll_ = await db.genericEventStore.readStream('clock-1', { at: new Date(0) });
    expect(beforeAll_).toEqual([]);
    const now = await db.genericEventStore.readStream('clock-1', {
      at: new Date(Date.now() + 60_000),
    });
    expect(now).toHaveLength(3);
  });
});
