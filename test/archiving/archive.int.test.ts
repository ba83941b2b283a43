import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { CommandHandler } from '../../src/application/commandHandler';
import { archiveFinishedStreams, type ArchiveResult } from '../../src/archiving/archiver';
import { ArchiveSchedule } from '../../src/archiving/archiveSchedule';
import { orderDecider, type OrderCommand } from '../../src/domain/order';
import {
  createPool,
  customerSubject,
  ERASED,
  eventIdFor,
  loadAggregate,
  StreamArchivedError,
} from '../../src/eventstore';
import { createEventStore } from '../../src/application/eventStore';
import { withDatabase } from '../../src/infra/databaseUrl';
import { backupDatabase } from '../../scripts/backup/backup';
import { restoreDatabase } from '../../scripts/backup/restore';
import { TEST_DATABASE_URL } from '../support/infrastructure';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const shippingAddress = {
  name: 'Grace Hopper',
  line1: '7 Cobol Row',
  city: 'Arlington',
  postalCode: '22201',
  country: 'US',
};
const metadata = { now: '2026-01-02T03:04:05.000Z' };
const place = (orderId: string, customerId = 'c-arch'): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId,
    customerId,
    paymentAccountId: 'acc-1',
    items: [{ sku: 'SKU-A', quantity: 1, unitPrice: 1_000 }],
    shippingAddress,
  },
  metadata,
});
const cancel = (orderId: string): OrderCommand => ({
  type: 'CancelOrder',
  data: { orderId, reason: 'CUSTOMER_REQUEST' },
  metadata,
});

/** Every archivable stream counts as old enough: the cutoff is a minute in the future. */
const archiveAll = (db: TestDatabase, liveOnlyProjections: string[] = []) =>
  archiveFinishedStreams(db.pool, {
    olderThanMs: 0,
    now: new Date(Date.now() + 60_000),
    liveOnlyProjections,
  });

/** Each row of a stream as Postgres renders it, every column (the bytes of the event). */
async function rowsAsText(db: TestDatabase, table: string, streamId: string): Promise<string[]> {
  const result = await db.pool.query<{ row: string }>(
    `SELECT e::text AS row FROM ${table} e WHERE stream_id = $1 ORDER BY version`,
    [streamId],
  );
  return result.rows.map((r) => r.row);
}

/** The whole log in catch-up order, read in pages of `limit` from `after`. */
async function walk(db: TestDatabase, after = 0n, limit = 3, skip = false): Promise<string[]> {
  const seen: string[] = [];
  for (let cursor = after; ;) {
    const page = await db.eventStore.readAll({
      after: cursor,
      limit,
      ...(skip && { archivedStreams: 'skip' as const }),
    });
    if (page.lastPosition === cursor) return seen;
    seen.push(...page.events.map((e) => `${e.globalPosition}:${e.streamId}:${e.version}`));
    cursor = page.lastPosition;
  }
}

describe('archiving finished streams', () => {
  let db: TestDatabase;
  let commands: CommandHandler;
  const run = (orderId: string, command: OrderCommand, step: string) =>
    commands.handle(orderDecider, orderId, command, { commandId: `${orderId}/${step}` });

  beforeAll(async () => {
    db = await createTestDatabase('archive');
    commands = new CommandHandler(db.eventStore);
    // Interleaved: a finished order, a live one, another finished one.
    await run('fin-1', place('fin-1'), 'place');
    await run('live-1', place('live-1', 'c-live'), 'place');
    await run('fin-2', place('fin-2'), 'place');
    await run('fin-1', cancel('fin-1'), 'cancel');
    await run('fin-2', cancel('fin-2'), 'cancel');
  });
  afterAll(async () => db?.drop());

  it('moves nothing that is younger than ARCHIVE_AFTER, nor on a dry run', async () => {
    const young = await archiveFinishedStreams(db.pool, { olderThanMs: 3_600_000 });
    expect(young).toMatchObject({ candidates: 0, archivedStreams: 0 });
    const dry = await archiveFinishedStreams(db.pool, {
      olderThanMs: 0,
      now: new Date(Date.now() + 60_000),
      dryRun: true,
    });
    expect(dry).toMatchObject({ dryRun: true, candidates: 2, archivedStreams: 0 });
    expect(await db.eventStore.archivedStream('order-fin-1')).toBeUndefined();
  });

  it('keeps the archive out of live-only readers’ way until they passed the stream', async () => {
    // A live-only projection that has not started holds every stream back.
    const waiting = await archiveAll(db, ['open_orders']);
    expect(waiting).toMatchObject({ candidates: 2, archivedStreams: 0 });
    // One that stands before fin-1's last event holds it back (and fin-2's, which ends later).
    const [fin1Last] = (await db.eventStore.readStream('order-fin-1')).slice(-1);
    await db.pool.query(
      `INSERT INTO projection_checkpoints (name, version, generation, position) VALUES ('open_orders', 1, 1, $1)`,
      [String(fin1Last!.globalPosition - 1n)],
    );
    expect(await archiveAll(db, ['open_orders'])).toMatchObject({ archivedStreams: 0 });
    await db.pool.query(`DELETE FROM projection_checkpoints WHERE name = 'open_orders'`);
  });

  let before: { walk: string[]; fin1: string[]; fin2: string[]; cursor: bigint };
  it('moves finished streams byte for byte, in one transaction each batch, and leaves live ones', async () => {
    const all = await walk(db);
    // A reader part-way through the log when the archiver runs: after fin-1's first event.
    const cursor = BigInt(all[0]!.split(':')[0]!);
    before = {
      walk: all,
      fin1: await rowsAsText(db, 'events', 'order-fin-1'),
      fin2: await rowsAsText(db, 'events', 'order-fin-2'),
      cursor,
    };
    expect(before.fin1).toHaveLength(2);

    const result = await archiveAll(db);
    expect(result).toMatchObject({ candidates: 2, archivedStreams: 2, archivedEvents: 4 });
    expect(await rowsAsText(db, 'events_archive', 'order-fin-1')).toEqual(before.fin1);
    expect(await rowsAsText(db, 'events_archive', 'order-fin-2')).toEqual(before.fin2);
    expect(await rowsAsText(db, 'events', 'order-fin-1')).toEqual([]);
    expect(await rowsAsText(db, 'events', 'order-live-1')).toHaveLength(1);
    expect(await db.eventStore.archivedStream('order-fin-1')).toMatchObject({
      streamType: 'order',
      lastVersion: 2,
    });
    expect(await db.eventStore.archivedStream('order-live-1')).toBeUndefined();
    // Nothing left to do.
    expect(await archiveAll(db)).toMatchObject({ candidates: 0 });
  });

  it('keeps archived events immutable, and hot events leave only into the archive', async () => {
    for (const sql of [
      "UPDATE events_archive SET data = '{}' WHERE stream_id = 'order-fin-1'",
      "DELETE FROM events_archive WHERE stream_id = 'order-fin-1'",
      'TRUNCATE events_archive',
      "DELETE FROM events WHERE stream_id = 'order-live-1'",
    ]) {
      await expect(db.pool.query(sql)).rejects.toMatchObject({ code: 'SF403' });
    }
  });

  it('still loads archived streams: aggregate, time travel, events by id, version', async () => {
    const order = await loadAggregate(db.eventStore, 'order-fin-1', orderDecider);
    expect(order.state.status).toBe('CANCELLED');
    expect(order.version).toBe(2);
    const events = await db.eventStore.readStream('order-fin-1');
    expect(events.map((e) => e.type)).toEqual(['OrderPlaced', 'OrderCancelled']);
    expect(events[0]?.data).toMatchObject({ shippingAddress: { name: 'Grace Hopper' } });
    const asPlaced = await db.eventStore.readStream('order-fin-1', { at: events[0]!.createdAt });
    expect(asPlaced.map((e) => e.type)).toEqual(['OrderPlaced']);
    expect(await db.eventStore.streamVersion('order-fin-1')).toBe(2);
    const byId = await db.eventStore.readEventsById('order-fin-1', [events[1]!.eventId]);
    expect(byId.map((e) => e.type)).toEqual(['OrderCancelled']);
    expect(await db.eventStore.headPosition()).toBe(
      BigInt(before.walk[before.walk.length - 1]!.split(':')[0]!),
    );
  });

  it('refuses appends to an archived stream, but answers a retry of its own events', async () => {
    const newEvent = {
      eventId: eventIdFor('late', 0),
      type: 'OrderCompleted',
      data: { orderId: 'fin-1' },
    };
    await expect(
      db.eventStore.append('order-fin-1', [newEvent], { expectedVersion: 2 }),
    ).rejects.toBeInstanceOf(StreamArchivedError);
    await expect(
      db.eventStore.append('order-fin-1', [newEvent], { expectedVersion: 'no_stream' }),
    ).rejects.toBeInstanceOf(StreamArchivedError);
    // The command that cancelled it, retried: the same event ids, found in the archive.
    const cancelled = await run('fin-1', cancel('fin-1'), 'cancel');
    expect(cancelled.version).toBe(2);
  });

  it('hands catch-up readers the same order across hot and archived events', async () => {
    expect(await walk(db)).toEqual(before.walk);
    expect(await walk(db, 0n, 1000)).toEqual(before.walk);
    // A reader whose cursor is an event that moved to the archive goes on where it was.
    const rest = before.walk.slice(
      before.walk.findIndex((e) => e.startsWith(`${before.cursor}:`)) + 1,
    );
    expect(await walk(db, before.cursor)).toEqual(rest);
    expect(await db.eventStore.catchUpHead()).toBe(
      BigInt(before.walk[before.walk.length - 1]!.split(':')[0]!),
    );
    // A live-only reader skips the archived streams.
    expect(await walk(db, 0n, 3, true)).toEqual(before.walk.filter((e) => e.includes('live-1')));
  });

  it('erases personal data of archived streams by destroying the key (crypto-shredding)', async () => {
    expect(await db.eventStore.erasePersonalData(customerSubject('c-arch'))).toBe(true);
    const [placed] = await db.eventStore.readStream('order-fin-2');
    expect(placed?.data).toMatchObject({
      shippingAddress: { name: ERASED, line1: ERASED, country: 'US' },
    });
    // The stored bytes did not change: erasure never touches events.
    expect(await rowsAsText(db, 'events_archive', 'order-fin-2')).toEqual(before.fin2);
    const stored = await db.pool.query(
      "SELECT 1 FROM events_archive WHERE data::text ILIKE '%Hopper%' OR data::text ILIKE '%Cobol%'",
    );
    expect(stored.rowCount).toBe(0);
  });

  it('archives on a schedule (the projector role’s archiver component)', async () => {
    await run('fin-3', place('fin-3'), 'place');
    await run('fin-3', cancel('fin-3'), 'cancel');
    const runs: ArchiveResult[] = [];
    const schedule = new ArchiveSchedule(db.pool, {
      intervalMs: 20,
      olderThanMs: 0,
      onRun: (result) => runs.push(result),
    });
    schedule.start();
    try {
      for (let waited = 0; !runs.some((r) => r.archivedStreams > 0) && waited < 5_000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await schedule.stop();
    }
    expect(runs.some((r) => r.archivedStreams === 1)).toBe(true);
    expect(await db.eventStore.archivedStream('order-fin-3')).toBeDefined();
  });

  describe('backup and restore', () => {
    let dir: string;
    const created: string[] = [];
    const server = () => process.env[TEST_DATABASE_URL] ?? process.env.DATABASE_URL ?? '';
    async function freshDatabase(label: string): Promise<string> {
      const name = `sagaflow_arch_${label}_${Math.random().toString(16).slice(2, 10)}`;
      const admin = new Client({ connectionString: server() });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
      created.push(name);
      return withDatabase(server(), name);
    }
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'sagaflow-archive-backup-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
      const admin = new Client({ connectionString: server() });
      await admin.connect();
      for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    });

    async function restored(url: string) {
      const pool = createPool(url, { max: 2 });
      const store = createEventStore(pool);
      try {
        return {
          fin1: (await store.readStream('order-fin-1')).map((e) => e.eventId),
          live1: (await store.readStream('order-live-1')).map((e) => e.eventId),
          archived: (await store.archivedStream('order-fin-1')) !== undefined,
          archivedRows: Number(
            (await pool.query<{ n: string }>('SELECT count(*) AS n FROM events_archive')).rows[0]!
              .n,
          ),
          append: await store
            .append(
              'order-fin-1',
              [{ eventId: eventIdFor('x', 0), type: 'OrderCompleted', data: { orderId: 'fin-1' } }],
              {
                expectedVersion: 'any',
              },
            )
            .then(
              () => 'appended',
              (error: unknown) => (error instanceof StreamArchivedError ? 'archived' : 'other'),
            ),
        };
      } finally {
        await pool.end();
      }
    }

    it('backs up both parts, and restores them', async () => {
      const file = path.join(dir, 'all.jsonl.gz');
      const backup = await backupDatabase(db.url, file);
      expect(backup.rows).toMatchObject({ events: 1, events_archive: 6, archived_streams: 3 });
      const target = await freshDatabase('all');
      await restoreDatabase(target, file, { skipRebuild: true });
      const fin1 = (await db.eventStore.readStream('order-fin-1')).map((e) => e.eventId);
      expect(await restored(target)).toEqual({
        fin1,
        live1: (await db.eventStore.readStream('order-live-1')).map((e) => e.eventId),
        archived: true,
        archivedRows: 6,
        append: 'archived',
      });
    });

    it('backs up the hot part alone, and adds the archive part to its restore later', async () => {
      const hot = path.join(dir, 'hot.jsonl.gz');
      const archive = path.join(dir, 'archive.jsonl.gz');
      expect((await backupDatabase(db.url, hot, { parts: 'hot' })).rows).not.toHaveProperty(
        'events_archive',
      );
      expect((await backupDatabase(db.url, archive, { parts: 'archive' })).rows).toEqual({
        archived_streams: 3,
        events_archive: 6,
      });
      const target = await freshDatabase('hot');
      await restoreDatabase(target, hot, { skipRebuild: true });
      const hotOnly = await restored(target);
      expect(hotOnly).toMatchObject({
        fin1: [],
        archived: true,
        archivedRows: 0,
        append: 'archived',
      });
      await restoreDatabase(target, archive, { skipRebuild: true });
      const both = await restored(target);
      expect(both.fin1).toHaveLength(2);
      expect(both.archivedRows).toBe(6);
      // The archive part is refused a second time (it would duplicate events).
      await expect(restoreDatabase(target, archive, { skipRebuild: true })).rejects.toThrow(
        /events_archive holds events/,
      );
    });
  });
});
