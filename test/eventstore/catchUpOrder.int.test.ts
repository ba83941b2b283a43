import { eventIdFor } from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

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
        await db.eventStore.append(
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
        const page = await db.eventStore.readAll({ after, limit: 37 });
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
    const head = (await db.eventStore.readAll({ after: 0n, limit: 1_000_000 })).lastPosition;

    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `SELECT * FROM append_to_stream('slow-1', 'slow', 'any', ARRAY[$1::uuid], ARRAY['Slow'], ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
        [eventIdFor('slow', 0)],
      );
      await db.eventStore.append(
        'fast-1',
        [{ eventId: eventIdFor('fast', 0), type: 'Fast', data: {} }],
        {
          expectedVersion: 'no_stream',
        },
      );

      const whileOpen = await db.eventStore.readAll({ after: head, limit: 100 });
      expect(whileOpen.events).toHaveLength(0);
      expect(whileOpen.lastPosition).toBe(head);
      const holdback = await db.eventStore.readerHoldback();
      expect(holdback.heldBackEvents).toBeGreaterThanOrEqual(1);
      expect(holdback.oldestTransactionAgeSeconds).toBeGreaterThanOrEqual(0);

      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    const afterCommit = await db.eventStore.readAll({ after: head, limit: 100 });
    expect(afterCommit.events.map((e) => e.streamId).sort()).toEqual(['fast-1', 'slow-1']);
    // The slow transaction got its id first, so it comes first although it committed last.
    expect(afterCommit.events[0]?.streamId).toBe('slow-1');
    expect((await db.eventStore.readerHoldback()).heldBackEvents).toBe(0);
  });

  it('filters by event type while still advancing past skipped events', async () => {
    const head = (await db.eventStore.readAll({ after: 0n, limit: 1_000_000 })).lastPosition;
    await db.eventStore.append(
      'filter-1',
      [
        { eventId: eventIdFor('f', 0), type: 'Wanted', data: {} },
        { eventId: eventIdFor('f', 1), type: 'Unwanted', data: {} },
      ],
      { expectedVersion: 'no_stream' },
    );
    const page = await db.eventStore.readAll({ after: head, limit: 10, eventTypes: ['Wanted'] });
    expect(page.events.map((e) => e.type)).toEqual(['Wanted']);
    expect(page.lastPosition).toBe(head + 2n);
  });
});
