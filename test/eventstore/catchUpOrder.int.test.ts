import type { PoolClient } from 'pg';
import { eventIdFor } from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

let appended = 0;
/** One event through append_to_stream on `client` (inside whatever transaction it has open). */
async function appendOn(client: PoolClient, streamId: string): Promise<bigint> {
  const result = await client.query<{ first_position: string }>(
    `SELECT first_position FROM append_to_stream($1, 'cursor', 'any', ARRAY[$2::uuid], ARRAY['Cursor'], ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
    [streamId, eventIdFor(`cursor-${appended++}`, 0)],
  );
  return BigInt(result.rows[0]!.first_position);
}

/**
 * The trap this guards against: bigserial positions become visible in commit order, so a
 * reader that checkpoints on the highest position it saw can skip an event forever.
 */
describe('event store: catch-up reads in a safe global order', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('catchup');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('hands a racing reader every event exactly once, and each stream in version order', async () => {
    const writers = 12;
    const appendsPerWriter = 40;
    const streams = 6; // few streams, so writers contend on them
    let writing = true;

    const writer = async (w: number) => {
      for (let i = 0; i < appendsPerWriter; i++) {
        const streamId = `race-${(w + i) % streams}`;
        const batch = 1 + ((w + i) % 3);
        await db.genericEventStore.append(
          streamId,
          Array.from({ length: batch }, (_, k) => ({
            eventId: eventIdFor(`w${w}-a${i}`, k),
            type: 'Raced',
            data: { w, i, k },
          })),
          { expectedVersion: 'any' },
        );
        // Stagger so commits interleave with reads in every possible order.
        if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    };

    const seen: Array<{ position: bigint; streamId: string; version: number }> = [];
    const reader = async () => {
      let after = 0n;
      for (;;) {
        const done = !writing;
        const page = await db.genericEventStore.readAll({ after, limit: 37 });
        for (const e of page.events) {
          seen.push({ position: e.globalPosition, streamId: e.streamId, version: e.version });
        }
        after = page.lastPosition;
        if (page.events.length === 0) {
          if (done) return;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    };

    const readerDone = reader();
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    writing = false;
    await readerDone;

    const all = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
    const positions = seen.map((s) => s.position.toString());
    expect(new Set(positions).size).toBe(positions.length); // no duplicates
    expect(seen.length).toBe(Number(all.rows[0]?.n)); // nothing missing
    const lastVersion = new Map<string, number>();
    for (const s of seen) {
      expect(s.version).toBe((lastVersion.get(s.streamId) ?? 0) + 1);
      lastVersion.set(s.streamId, s.version);
    }
  });

  it('holds back events above an open transaction until it ends, and reports the hold-back', async () => {
    const head = (await db.genericEventStore.readAll({ after: 0n, limit: 1_000_000 })).lastPosition;

    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `SELECT * FROM append_to_stream('slow-1', 'slow', 'any', ARRAY[$1::uuid], ARRAY['Slow'], ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
        [eventIdFor('slow', 0)],
      );
      await db.genericEventStore.append(
        'fast-1',
        [{ eventId: eventIdFor('fast', 0), type: 'Fast', data: {} }],
        {
          expectedVersion: 'no_stream',
        },
      );

      const whileOpen = await db.genericEventStore.readAll({ after: head, limit: 100 });
      expect(whileOpen.events).toHaveLength(0);
      expect(whileOpen.lastPosition).toBe(head);
      const holdback = await db.genericEventStore.readerHoldback();
      expect(holdback.heldBackEvents).toBeGreaterThanOrEqual(1);
      expect(holdback.oldestTransactionAgeSeconds).toBeGreaterThanOrEqual(0);

      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    const afterCommit = await db.genericEventStore.readAll({ after: head, limit: 100 });
    expect(afterCommit.events.map((e) => e.streamId).sort()).toEqual(['fast-1', 'slow-1']);
    // The slow transaction got its id first, so it comes first although it committed last.
    expect(afterCommit.events[0]?.streamId).toBe('slow-1');
    expect((await db.genericEventStore.readerHoldback()).heldBackEvents).toBe(0);
  });

  it('filters by event type while still advancing past skipped events', async () => {
    const head = (await db.genericEventStore.readAll({ after: 0n, limit: 1_000_000 })).lastPosition;
    await db.genericEventStore.append(
      'filter-1',
      [
        { eventId: eventIdFor('f', 0), type: 'Wanted', data: {} },
        { eventId: eventIdFor('f', 1), type: 'Unwanted', data: {} },
      ],
      { expectedVersion: 'no_stream' },
    );
    const page = await db.genericEventStore.readAll({
      after: head,
      limit: 10,
      eventTypes: ['Wanted'],
    });
    expect(page.events.map((e) => e.type)).toEqual(['Wanted']);
    expect(page.lastPosition).toBe(head + 2n);
  });

  describe('a cursor that is no event position', () => {
    /**
     * Waits until no event of this database is held back. The hold-back horizon is the
     * whole server's: a transaction of another test's database also delays our reads.
     */
    const settled = async () => {
      for (let i = 0; (await db.genericEventStore.readerHoldback()).heldBackEvents > 0; i++) {
        if (i > 500) throw new Error('events stay held back');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const positionsAfter = async (after: bigint) => {
      await settled();
      return (await db.genericEventStore.readAll({ after, limit: 1000 })).events.map(
        (e) => e.globalPosition,
      );
    };
    const appendOne = async (streamId: string) => {
      const client = await db.pool.connect();
      try {
        return await appendOn(client, streamId);
      } finally {
        client.release();
      }
    };
    /** A position an append took and gave back (its transaction rolled back): a gap. */
    const rolledBackPosition = async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        const position = await appendOn(client, 'rolled-back');
        await client.query('ROLLBACK');
        return position;
      } finally {
        client.release();
      }
    };

    it('a gap delivers only what comes after it, never the log again', async () => {
      const before = await appendOne('gap-1');
      const gap = await rolledBackPosition();
      const after = await appendOne('gap-2');
      expect(gap).toBeGreaterThan(before);
      expect(after).toBeGreaterThan(gap);

      await settled();
      const page = await db.genericEventStore.readAll({ after: gap, limit: 1000 });
      expect(page.events.map((e) => e.globalPosition)).toEqual([after]);
      expect(page.lastPosition).toBe(after);
      // The continuation from the page goes on from there.
      expect(await positionsAfter(page.lastPosition)).toEqual([]);
    });

    it('head + 1 and far beyond the head deliver nothing at or below the cursor, ever', async () => {
      await settled();
      const head = (await db.genericEventStore.readAll({ after: 0n, limit: 1_000_000 }))
        .lastPosition;
      const beyond = head + 1_000_000_000n;
      expect(await positionsAfter(head + 1n)).toEqual([]);
      expect(await positionsAfter(beyond)).toEqual([]);
      const far = await db.genericEventStore.readAll({ after: beyond, limit: 10 });
      expect(far.lastPosition).toBe(beyond);

      const next = await appendOne('head-1');
      const nextButOne = await appendOne('head-2');
      expect(next).toBeGreaterThanOrEqual(head + 1n);
      // Only positions above the cursor, whatever the cursor.
      expect(await positionsAfter(next)).toEqual([nextButOne]);
      expect(await positionsAfter(next - 1n)).toEqual(
        next - 1n === head ? [next, nextButOne] : [nextButOne],
      );
      expect(await positionsAfter(beyond)).toEqual([]);
      expect(await positionsAfter(9_223_372_036_854_775_807n)).toEqual([]);
    });

    it('cursor 0 is the start of the log', async () => {
      await settled();
      const all = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
      expect((await positionsAfter(0n)).length).toBe(Number(all.rows[0]?.n));
    });

    it('a cursor on a position whose transaction is still open waits for it, then goes on after it', async () => {
      const blocker = await db.pool.connect();
      let open: bigint;
      let fast: bigint;
      try {
        await blocker.query('BEGIN');
        open = await appendOn(blocker, 'open-1');
        fast = await appendOne('fast-after-open');
        // The open transaction's position is not an event yet, for anyone.
        expect(
          (await db.genericEventStore.readAll({ after: open, limit: 1000 })).events.map(
            (e) => e.globalPosition,
          ),
        ).toEqual([]);
        await blocker.query('COMMIT');
      } finally {
        blocker.release();
      }
      expect(await positionsAfter(open)).toEqual([fast]);
    });

    it('a gap among transactions whose ids run against their positions re-delivers nothing', async () => {
      // Insert directly (bypassing append_to_stream's first-write rule) to force the order:
      // `late` takes its transaction id first but its position last.
      const insert = (client: PoolClient, streamId: string) =>
        client
          .query<{ global_position: string }>(
            `INSERT INTO events (stream_id, stream_type, version, event_id, event_type, data)
             VALUES ($1, 'cursor', 1, gen_random_uuid(), 'Cursor', '{}') RETURNING global_position`,
            [streamId],
          )
          .then((r) => BigInt(r.rows[0]!.global_position));
      const first = await db.pool.connect();
      const second = await db.pool.connect();
      let early: bigint;
      let late: bigint;
      let gap: bigint;
      try {
        await first.query('BEGIN');
        await first.query('SELECT pg_current_xact_id()');
        await second.query('BEGIN');
        early = await insert(second, 'xid-later'); // smaller position, larger transaction id
        gap = await rolledBackPosition();
        late = await insert(first, 'xid-earlier'); // larger position, smaller transaction id
        await first.query('COMMIT');
        await second.query('COMMIT');
      } finally {
        first.release();
        second.release();
      }
      const tail = await appendOne('after-xid-pair');
      expect(early).toBeLessThan(gap);
      expect(gap).toBeLessThan(late);
      // Catch-up order: late (smaller transaction id) before early.
      const fromBefore = await positionsAfter(early - 1n);
      expect(fromBefore).toEqual([late, early, tail]);
      // A reader that has seen everything up to the gap has passed `early` in that order, so
      // `late` too; what is left is the tail, and nothing at or below the gap comes back.
      expect(await positionsAfter(gap)).toEqual([tail]);
    });
  });
});
