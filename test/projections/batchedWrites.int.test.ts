import type { Client, PoolClient } from 'pg';
import type { RecordedEvent } from '../../src/eventstore';
import { ALL_PROJECTIONS, type Projection } from '../../src/projections';
import { KeyedRowConflictError } from '../../src/projections/keyedRows';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * Batched writes (applyBatch: fold in memory, one multi-row statement) must leave the same
 * rows as the per-event path, including redelivered events (catch-up after inline), streams
 * that break their version chain, and streams that do not start with their opening event.
 */

let position = 0;
const at = (n: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, n));

function recorded(streamId: string, version: number, type: string, data: object): RecordedEvent {
  position++;
  return {
    globalPosition: BigInt(position),
    streamId,
    streamType: streamId.split('-')[0]!,
    version,
    eventId: crypto.randomUUID(),
    type,
    schemaVersion: 1,
    data,
    metadata: {},
    transactionId: BigInt(position),
    createdAt: at(position),
  };
}

/** Stream histories, one event list per stream; some streams are deliberately broken. */
function histories(): RecordedEvent[][] {
  const streams: RecordedEvent[][] = [];
  for (let i = 0; i < 30; i++) {
    const accountId = `a${i}`;
    const s = `account-${accountId}`;
    const events = [recorded(s, 1, 'AccountOpened', { accountId, ownerId: `o${i}` })];
    for (let v = 2; v <= 2 + (i % 7); v++) {
      const type =
        v % 5 === 0 ? 'AccountFrozen' : v % 3 === 0 ? 'AccountDebited' : 'FundsDeposited';
      events.push(recorded(s, v, type, { accountId, amount: 10, balanceAfter: v * 10 }));
    }
    streams.push(events);
    const orderId = `ord${i}`;
    const o = `order-${orderId}`;
    const placed = {
      orderId,
      customerId: `c${i % 4}`,
      paymentAccountId: accountId,
      items: [{ sku: `sku${i % 3}`, quantity: 2, unitPrice: 150, currency: 'EUR' }],
      total: 300,
      placedAt: at(i).toISOString(),
    };
    const flow = ['OrderStockReserved', 'OrderApproved', 'OrderPaid', 'OrderCancelled'];
    streams.push([
      recorded(o, 1, 'OrderPlaced', placed),
      ...flow
        .slice(0, i % 5)
        .map((type, k) => recorded(o, k + 2, type, { orderId, reason: `why ${k}` })),
    ]);
    const sku = `sku${i}`;
    const inv = `inventory-${sku}`;
    const stock = [
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
      'ReservationReleased',
    ];
    streams.push(
      stock
        .slice(0, 1 + (i % 4))
        .map((type, k) => recorded(inv, k + 1, type, { sku, quantity: k + 3 })),
    );
    const transferId = `t${i}`;
    const t = `transfer-${transferId}`;
    const money = { transferId, fromAccountId: 'a1', toAccountId: 'a2', amount: 50 };
    const steps = ['TransferDebited', 'TransferCredited', 'TransferCompleted'];
    streams.push([
      recorded(t, 1, 'TransferRequested', money),
      ...steps
        .slice(0, i % 4)
        .map((type, k) => recorded(t, k + 2, type, { transferId, reason: 'r' })),
    ]);
  }
  // Broken streams: no opening event, a gap, an opening event repeated later.
  streams.push([recorded('account-x1', 1, 'FundsDeposited', { accountId: 'x1', balanceAfter: 5 })]);
  streams.push([
    recorded('account-x2', 1, 'AccountOpened', { accountId: 'x2', ownerId: 'o' }),
    recorded('account-x2', 3, 'FundsDeposited', { accountId: 'x2', balanceAfter: 7 }),
  ]);
  streams.push([
    recorded('order-x3', 1, 'OrderPlaced', { ...placedFor('x3') }),
    recorded('order-x3', 2, 'OrderPlaced', { ...placedFor('x3') }),
    recorded('order-x3', 3, 'OrderPaid', { orderId: 'x3' }),
  ]);
  return streams;
}

const placedFor = (orderId: string) => ({
  orderId,
  customerId: 'c',
  paymentAccountId: 'a',
  items: [],
  total: 0,
  placedAt: at(1).toISOString(),
});

/** Interleaves the streams round-robin, as a log of concurrent writers would. */
function interleave(streams: RecordedEvent[][]): RecordedEvent[] {
  const log: RecordedEvent[] = [];
  const longest = Math.max(...streams.map((s) => s.length));
  for (let k = 0; k < longest; k++) for (const s of streams) if (s[k]) log.push(s[k]!);
  return log;
}

async function inTransaction(client: PoolClient, work: () => Promise<void>) {
  await client.query('BEGIN');
  await work();
  await client.query('COMMIT');
}

async function differingRows(db: TestDatabase, a: string, b: string): Promise<number> {
  const diff = await db.pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM (
       (SELECT * FROM ${a} EXCEPT SELECT * FROM ${b}) UNION ALL
       (SELECT * FROM ${b} EXCEPT SELECT * FROM ${a})) d`,
  );
  return Number(diff.rows[0]!.n);
}

describe('batched read-model writes', () => {
  let db: TestDatabase;
  const log = interleave(histories());

  beforeAll(async () => {
    db = await createTestDatabase('batched_writes');
  });
  afterAll(() => db.drop());

  it.each(ALL_PROJECTIONS.map((p) => [p.name, p] as const))(
    '%s: batches with redeliveries equal event-by-event',
    async (_name, projection: Projection) => {
      const events = log.filter((event) => projection.eventTypes.includes(event.type));
      const single = `${projection.name}_single`;
      const batched = `${projection.name}_batched`;
      await projection.createTables(db.pool, single);
      await projection.createTables(db.pool, batched);
      const client = await db.pool.connect();
      try {
        for (const event of events) {
          await inTransaction(client, () => projection.handle(client, event, single));
        }
        // Batches of varying size, each starting a few events before the previous one ended.
        let from = 0;
        for (let size = 1; from < events.length; size = (size * 7) % 53 || 1) {
          const to = Math.min(events.length, from + size);
          const batch = events.slice(Math.max(0, from - 3), to);
          await inTransaction(client, () => projection.applyBatch!(client, batch, batched));
          from = to;
        }
        // The whole log again in one batch: everything is already applied.
        await inTransaction(client, () => projection.applyBatch!(client, events, batched));
      } finally {
        client.release();
      }
      const rows = await db.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${single}`);
      expect(Number(rows.rows[0]!.n)).toBeGreaterThan(20);
      expect(await differingRows(db, single, batched)).toBe(0);
    },
  );

  it('a batch that folded several events into a row another writer inserted meanwhile fails', async () => {
    const projection = ALL_PROJECTIONS.find((p) => p.name === 'account_balance')!;
    const table = 'account_balance_race';
    await projection.createTables(db.pool, table);
    const opened = recorded('account-r1', 1, 'AccountOpened', { accountId: 'r1', ownerId: 'o' });
    const deposit = recorded('account-r1', 2, 'FundsDeposited', {
      accountId: 'r1',
      balanceAfter: 9,
    });
    const other = await db.pool.connect();
    const batch = await db.pool.connect();
    try {
      await other.query('BEGIN');
      await projection.handle(other, opened, table); // inserted, not committed yet
      await batch.query('BEGIN');
      const batchPid = await backendPid(batch);
      const applying = projection.applyBatch!(batch, [opened, deposit], table).then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitUntilBlocked(db, batchPid); // its insert waits for the other writer
      await other.query('COMMIT');
      expect(await applying).toBeInstanceOf(KeyedRowConflictError);
      await batch.query('ROLLBACK');
      // Event by event (the engine's fallback), the guards decide: v1 is there, v2 applies.
      await inTransaction(batch, async () => {
        for (const event of [opened, deposit]) await projection.handle(batch, event, table);
      });
      const row = await db.pool.query(`SELECT balance::int, version FROM ${table}`);
      expect(row.rows).toEqual([{ balance: 9, version: 2 }]);
    } finally {
      other.release();
      batch.release();
    }
  });
});

async function backendPid(client: PoolClient | Client): Promise<number> {
  const result = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return result.rows[0]!.pid;
}

async function waitUntilBlocked(db: TestDatabase, pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const result = await db.pool.query<{ waiting: boolean }>(
      "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
      [pid],
    );
    if (result.rows[0]?.waiting) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`backend ${pid} never blocked`);
}
