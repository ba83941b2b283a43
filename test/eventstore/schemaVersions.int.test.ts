/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- assertions on JSON response bodies */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandHandler } from '../../src/application/commandHandler';
import { DOMAIN_EVENT_SCHEMAS } from '../../src/application/eventStore';
import {
  EVENT_SCHEMA_VERSIONS,
  orderDecider,
  type OrderCommand,
  type PlacedOrder,
} from '../../src/domain';
import {
  EventSchemaVersionMismatchError,
  EventSchemaViolationError,
  eventIdFor,
  FutureEventSchemaVersionError,
  loadAggregate,
  PostgresEventStore,
  UndeclaredEventTypeError,
  type NewEvent,
  type Snapshot,
} from '../../src/eventstore';
import { getOrderSummary, rebuildProjection } from '../../src/projections';
import { createApiTestApp, type ApiTestApp } from '../api/support/apiApp';

interface V1Fixture {
  streamId: string;
  events: (NewEvent & { schemaVersion: number })[];
  snapshot: Snapshot;
}

const fixture = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/eventSchemas/orderPlaced.v1.json'), 'utf8'),
) as V1Fixture;

const now = '2026-12-01T10:00:00.000Z';
const address = {
  name: 'Grace Hopper',
  line1: '1 Navy Way',
  city: 'Arlington',
  postalCode: '22202',
  country: 'US',
};

let t: ApiTestApp;
/** When each fixture event was appended (time travel). */
const appendedAt: Date[] = [];

beforeAll(async () => {
  t = await createApiTestApp('schema_versions');
  // Appended as the store before the change did: sealed, at the version given (1).
  let version = 0;
  for (const event of fixture.events) {
    const result = await t.db.genericEventStore.append(fixture.streamId, [event], {
      expectedVersion: version,
    });
    version = result.nextExpectedVersion;
    const [stored] = await t.db.genericEventStore.readStream(fixture.streamId, {
      fromVersion: version,
      raw: true,
    });
    appendedAt.push(stored!.createdAt);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await t.db.eventStore.writeSnapshot(fixture.snapshot);
});
afterAll(async () => t?.close());

const place = (orderId: string): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId,
    customerId: 'c-new',
    paymentAccountId: 'acc-new',
    items: [{ sku: 'SKU-A', quantity: 1, unitPrice: 700 }],
    shippingAddress: address,
  },
  metadata: { now },
});

describe('schema versions that take effect', () => {
  it('stores the version each decider declares (OrderPlaced at 2, the rest at 1)', async () => {
    expect(EVENT_SCHEMA_VERSIONS.OrderPlaced).toBe(2);
    const commands = new CommandHandler(t.db.eventStore);
    await commands.handle(orderDecider, 'sv-1', place('sv-1'), { commandId: 'place-sv-1' });
    await commands.handle(
      orderDecider,
      'sv-1',
      { type: 'MarkStockReserved', data: { orderId: 'sv-1' }, metadata: { now } },
      { commandId: 'reserve-sv-1' },
    );
    const raw = await t.db.eventStore.readStream('order-sv-1', { raw: true });
    expect(raw.map((e) => [e.type, e.schemaVersion])).toEqual([
      ['OrderPlaced', 2],
      ['OrderStockReserved', 1],
    ]);
    // Stored in the v2 shape: no upcaster ran on it.
    expect((raw[0]!.data as PlacedOrder).items).toEqual([
      { sku: 'SKU-A', quantity: 1, unitPrice: 700, currency: 'EUR' },
    ]);
  });

  it('refuses to append an event type with no declared version', async () => {
    const commands = new CommandHandler(t.db.eventStore);
    const undeclared = {
      ...orderDecider,
      eventSchemaVersions: { ...orderDecider.eventSchemaVersions, OrderPlaced: undefined },
    } as unknown as typeof orderDecider;
    await expect(
      commands.handle(undeclared, 'sv-2', place('sv-2'), { commandId: 'place-sv-2' }),
    ).rejects.toThrow(UndeclaredEventTypeError);
    await expect(
      t.db.eventStore.append(
        'order-sv-3',
        [{ eventId: eventIdFor('sv-3', 0), type: 'OrderTeleported', data: {} }],
        { expectedVersion: 'no_stream' },
      ),
    ).rejects.toThrow(/OrderTeleported has no declared schema version/);
    expect(await t.db.eventStore.streamVersion('order-sv-2')).toBe(0);
    expect(await t.db.eventStore.streamVersion('order-sv-3')).toBe(0);
  });

  it('refuses an event that does not match its schema, naming the type and the field', async () => {
    const v1Data = fixture.events[0]!.data;
    const attempt = t.db.eventStore.append(
      'order-sv-4',
      [{ eventId: eventIdFor('sv-4', 0), type: 'OrderPlaced', data: v1Data }],
      { expectedVersion: 'no_stream' },
    );
    await expect(attempt).rejects.toThrow(EventSchemaViolationError);
    await expect(attempt).rejects.toThrow('Event OrderPlaced v2: field items.0.currency');
    await expect(
      t.db.eventStore.append(
        'order-sv-4',
        [
          {
            eventId: eventIdFor('sv-4', 0),
            type: 'OrderPaid',
            data: { orderId: 'sv-4', amount: '10' },
          },
        ],
        { expectedVersion: 'no_stream' },
      ),
    ).rejects.toThrow('Event OrderPaid v1: field amount');
    // Writing an old version is refused too: only the current shape enters the store.
    await expect(
      t.db.eventStore.append(
        'order-sv-4',
        [{ eventId: eventIdFor('sv-4', 0), type: 'OrderPlaced', data: v1Data, schemaVersion: 1 }],
        { expectedVersion: 'no_stream' },
      ),
    ).rejects.toThrow(EventSchemaVersionMismatchError);
    expect(await t.db.eventStore.streamVersion('order-sv-4')).toBe(0);
  });
});

describe('OrderPlaced v1 events recorded before the change', () => {
  const lines = [
    { sku: 'SKU-A', quantity: 2, unitPrice: 1250, currency: 'EUR' },
    { sku: 'SKU-B', quantity: 1, unitPrice: 499, currency: 'EUR' },
  ];

  it('are stored as v1 and read back as v2 (stream read)', async () => {
    const raw = await t.db.eventStore.readStream(fixture.streamId, { raw: true });
    expect(raw[0]!.schemaVersion).toBe(1);
    const read = await t.db.eventStore.readStream(fixture.streamId);
    expect(read[0]!.schemaVersion).toBe(2);
    expect((read[0]!.data as PlacedOrder).items).toEqual(lines);
    // The upcaster runs after personal data is opened: the address is intact.
    expect((read[0]!.data as PlacedOrder).shippingAddress).toEqual(
      fixture.events[0]!.data && (fixture.events[0]!.data as PlacedOrder).shippingAddress,
    );
  });

  it('are never read in their old shape by a store that lacks the upcaster', async () => {
    const withoutUpcasters = new PostgresEventStore(
      t.db.pool,
      undefined,
      {},
      {
        schemas: DOMAIN_EVENT_SCHEMAS,
      },
    );
    await expect(withoutUpcasters.readStream(fixture.streamId)).rejects.toThrow(
      'Event OrderPlaced at order-fx-v1 version 1: no upcaster from schema version 1 (current 2)',
    );
  });

  it('load as an aggregate, ignoring the snapshot of the pre-currency state', async () => {
    const loaded = await loadAggregate(t.db.eventStore, fixture.streamId, orderDecider, {
      sealedPersonalData: true,
    });
    expect(loaded.snapshotVersion).toBeUndefined();
    expect(loaded.version).toBe(4);
    expect(loaded.state).toMatchObject({ status: 'PAID', items: lines });
    // The snapshot is there, and state schema 1 would have used it (lines without currency).
    const asBefore = await loadAggregate(t.db.eventStore, fixture.streamId, {
      ...orderDecider,
      snapshot: { every: 100, stateSchemaVersion: 1 },
    });
    expect(asBefore.snapshotVersion).toBe(4);
    expect((asBefore.state as PlacedOrder).items[0]).not.toHaveProperty('currency');
  });

  it('take further commands, whose events are stored at their declared version', async () => {
    const commands = new CommandHandler(t.db.eventStore, { aggregateCacheSize: 0 });
    const result = await commands.handle(
      orderDecider,
      'fx-v1',
      { type: 'MarkDispatched', data: { orderId: 'fx-v1' }, metadata: { now } },
      { commandId: 'dispatch-fx-v1' },
    );
    expect(result.version).toBe(5);
    expect((result.state as PlacedOrder).items).toEqual(lines);
    const [dispatched] = await t.db.eventStore.readStream(fixture.streamId, {
      fromVersion: 5,
      raw: true,
    });
    expect([dispatched!.type, dispatched!.schemaVersion]).toEqual(['OrderDispatched', 1]);
  });

  it('travel in time: the stream as it was after OrderPlaced, upcast', async () => {
    const atPlacement = await t.db.eventStore.readStream(fixture.streamId, {
      at: appendedAt[0]!,
    });
    expect(atPlacement.map((e) => [e.type, e.schemaVersion])).toEqual([['OrderPlaced', 2]]);
    expect((atPlacement[0]!.data as PlacedOrder).items).toEqual(lines);
    const atPayment = await t.db.eventStore.readStream(fixture.streamId, { at: appendedAt[3]! });
    expect(atPayment).toHaveLength(4);
  });

  it('come through readAll upcast, and a projection rebuild reads them', async () => {
    const all = await t.db.eventStore.readAll({ after: 0n, limit: 1000 });
    const placed = all.events.find(
      (e) => e.streamId === fixture.streamId && e.type === 'OrderPlaced',
    );
    expect(placed?.schemaVersion).toBe(2);
    expect((placed?.data as PlacedOrder).items).toEqual(lines);

    await rebuildProjection(t.db, 'order_summary');
    const summary = await getOrderSummary(t.db.pool, 'fx-v1');
    expect(summary).toMatchObject({ orderId: 'fx-v1', total: 2999 });
    expect(summary?.lines).toEqual(
      lines.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
    );
  });

  it('are served upcast by GET /streams/{id}/events and GET /events', async () => {
    const stream = await t.app.inject({ url: `/streams/${fixture.streamId}/events` });
    expect(stream.statusCode).toBe(200);
    const [first] = stream.json().events;
    expect(first.schemaVersion).toBe(2);
    expect(first.data.items).toEqual(lines);
    expect(first.data.shippingAddress.name).toBe('Ada Lovelace');

    const all = await t.app.inject({ url: '/events?after=0&limit=1000' });
    expect(all.statusCode).toBe(200);
    const placed = all
      .json()
      .events.find((e: { streamId: string }) => e.streamId === fixture.streamId);
    expect(placed.schemaVersion).toBe(2);
    expect(placed.data.items).toEqual(lines);
  });
});

describe('GET /admin/event-schemas', () => {
  it('serves every type and version with its JSON schema', async () => {
    const response = await t.app.inject({ url: '/admin/event-schemas' });
    expect(response.statusCode).toBe(200);
    const { eventTypes } = response.json();
    expect(eventTypes.map((e: { type: string }) => e.type).sort()).toEqual(
      Object.keys(EVENT_SCHEMA_VERSIONS).sort(),
    );
    const placed = eventTypes.find((e: { type: string }) => e.type === 'OrderPlaced');
    expect(placed.currentVersion).toBe(2);
    expect(placed.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(placed.versions[1].schema.properties.items.items.required).toContain('currency');
    expect(placed.versions[0].schema.properties.items.items.required).not.toContain('currency');
    for (const [type, version] of Object.entries(EVENT_SCHEMA_VERSIONS)) {
      expect(DOMAIN_EVENT_SCHEMAS.currentVersion(type)).toBe(version);
    }
  });
});

// Last: the event it leaves behind stops every catch-up read of this database.
describe('an event of a newer schema version', () => {
  it('refuses to load an event newer than the code knows, saying where it is', async () => {
    const { firstPosition } = await t.db.genericEventStore.append(
      'order-sv-5',
      [
        {
          eventId: eventIdFor('sv-5', 0),
          type: 'OrderPlaced',
          data: { orderId: 'sv-5' },
          schemaVersion: 3,
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    const read = t.db.eventStore.readStream('order-sv-5');
    await expect(read).rejects.toThrow(FutureEventSchemaVersionError);
    await expect(read).rejects.toThrow(
      `Event OrderPlaced at order-sv-5 version 1 (global position ${firstPosition}) is of schema version 3, newer than 2`,
    );
    await expect(loadAggregate(t.db.eventStore, 'order-sv-5', orderDecider)).rejects.toThrow(
      FutureEventSchemaVersionError,
    );
    // Catch-up readers (projections, GET /events) stop at it instead of misreading it.
    await expect(t.db.eventStore.readAll({ after: 0n, limit: 1000 })).rejects.toThrow(
      FutureEventSchemaVersionError,
    );
  });
});
