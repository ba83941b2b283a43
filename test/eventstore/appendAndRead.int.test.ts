import {
  AppendNotFirstWriteError,
  deterministicId,
  eventIdFor,
  PartialDuplicateAppendError,
  WrongExpectedVersionError,
  type NewEvent,
} from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const event = (
  commandId: string,
  index: number,
  type = 'ThingHappened',
  data: unknown = { index },
): NewEvent => ({
  eventId: eventIdFor(commandId, index),
  type,
  data,
});

describe('event store: append and read', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('append');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('round-trips events with versions, positions, metadata and transaction ids', async () => {
    const result = await db.genericEventStore.append(
      'thing-1',
      [
        event('c1', 0, 'Created', { name: 'a' }),
        { ...event('c1', 1, 'Renamed', { name: 'b' }), metadata: { causation_id: 'x' } },
      ],
      {
        expectedVersion: 'no_stream',
        metadata: { correlation_id: 'corr-1', causation_id: 'cmd-1' },
      },
    );
    expect(result).toMatchObject({ nextExpectedVersion: 2, duplicate: false });
    expect(result.lastPosition - result.firstPosition).toBe(1n);

    const events = await db.genericEventStore.readStream('thing-1');
    expect(events.map((e) => [e.version, e.type, e.data, e.streamType])).toEqual([
      [1, 'Created', { name: 'a' }, 'thing'],
      [2, 'Renamed', { name: 'b' }, 'thing'],
    ]);
    expect(events[0]?.metadata).toEqual({ correlation_id: 'corr-1', causation_id: 'cmd-1' });
    expect(events[1]?.metadata).toEqual({ correlation_id: 'corr-1', causation_id: 'x' });
    expect(events[0]?.transactionId).toBe(events[1]?.transactionId);
    expect(events[0]?.globalPosition).toBe(result.firstPosition);
    expect(await db.genericEventStore.streamVersion('thing-1')).toBe(2);
    expect(await db.genericEventStore.streamVersion('thing-none')).toBe(0);
  });

  it('reads a stream forward from a version and up to a version', async () => {
    await db.genericEventStore.append(
      'range-1',
      [0, 1, 2, 3, 4].map((i) => event('range', i)),
      { expectedVersion: 'no_stream' },
    );
    const from3 = await db.genericEventStore.readStream('range-1', { fromVersion: 3 });
    expect(from3.map((e) => e.version)).toEqual([3, 4, 5]);
    const upTo2 = await db.genericEventStore.readStream('range-1', { toVersion: 2 });
    expect(upTo2.map((e) => e.version)).toEqual([1, 2]);
  });

  describe('expectedVersion', () => {
    it.each([
      ['no_stream on a new stream', 'ev-new-1', 0, 'no_stream', true],
      ['no_stream on an existing stream', 'ev-new-2', 1, 'no_stream', false],
      ['stream_exists on a new stream', 'ev-new-3', 0, 'stream_exists', false],
      ['stream_exists on an existing stream', 'ev-new-4', 2, 'stream_exists', true],
      ['any on a new stream', 'ev-new-5', 0, 'any', true],
      ['any on an existing stream', 'ev-new-6', 3, 'any', true],
      ['the exact version', 'ev-new-7', 2, 2, true],
      ['a stale version', 'ev-new-8', 3, 2, false],
      ['a version from the future', 'ev-new-9', 1, 5, false],
      ['0 on a new stream', 'ev-new-10', 0, 0, true],
    ] as const)('%s', async (_name, streamId, existing, expectedVersion, succeeds) => {
      if (existing > 0) {
        await db.genericEventStore.append(
          streamId,
          Array.from({ length: existing }, (_, i) => event(`${streamId}-seed`, i)),
          { expectedVersion: 'no_stream' },
        );
      }
      const attempt = db.genericEventStore.append(streamId, [event(`${streamId}-next`, 0)], {
        expectedVersion,
      });
      if (succeeds) {
        await expect(attempt).resolves.toMatchObject({ nextExpectedVersion: existing + 1 });
      } else {
        const error = await attempt.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ streamId, expected: expectedVersion, actual: existing });
        expect(await db.genericEventStore.streamVersion(streamId)).toBe(existing);
      }
    });
  });

  it('lets exactly one of many concurrent appends with the same expected version win', async () => {
    await db.genericEventStore.append('race-1', [event('race-seed', 0)], {
      expectedVersion: 'no_stream',
    });
    const attempts = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) =>
        db.genericEventStore.append('race-1', [event(`race-${i}`, 0)], { expectedVersion: 1 }),
      ),
    );
    const won = attempts.filter((a) => a.status === 'fulfilled');
    const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(15);
    for (const loss of lost) expect(loss.reason).toBeInstanceOf(WrongExpectedVersionError);
    expect((await db.genericEventStore.readStream('race-1')).map((e) => e.version)).toEqual([1, 2]);
  });

  it('serializes concurrent appends with expectedVersion any into consecutive versions', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.genericEventStore.append('any-race-1', [event(`any-${i}`, 0), event(`any-${i}`, 1)], {
          expectedVersion: 'any',
        }),
      ),
    );
    const events = await db.genericEventStore.readStream('any-race-1');
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Each batch stays contiguous: versions 2k+1 and 2k+2 come from the same call.
    const batchOf = new Map(
      Array.from({ length: 20 }, (_, i) => [
        [eventIdFor(`any-${i}`, 0), `${i}:0`],
        [eventIdFor(`any-${i}`, 1), `${i}:1`],
      ]).flat() as Array<[string, string]>,
    );
    for (let v = 0; v < 40; v += 2) {
      const [callA, partA] = batchOf.get(events[v]?.eventId ?? '')?.split(':') ?? [];
      const [callB, partB] = batchOf.get(events[v + 1]?.eventId ?? '')?.split(':') ?? [];
      expect([callA, partA, partB]).toEqual([callB, '0', '1']);
    }
  });

  it('treats re-appending the same event ids as a no-op that returns the original result', async () => {
    const batch = [event('idem', 0), event('idem', 1)];
    const first = await db.genericEventStore.append('idem-1', batch, {
      expectedVersion: 'no_stream',
    });
    // A retry after a lost reply: same ids, same (now stale) expected version.
    const retry = await db.genericEventStore.append('idem-1', batch, {
      expectedVersion: 'no_stream',
    });
    expect(retry).toEqual({ ...first, duplicate: true });
    const concurrentRetries = await Promise.all(
      Array.from({ length: 8 }, () =>
        db.genericEventStore.append('idem-1', batch, { expectedVersion: 0 }),
      ),
    );
    for (const r of concurrentRetries) expect(r).toEqual({ ...first, duplicate: true });
    expect(await db.genericEventStore.readStream('idem-1')).toHaveLength(2);
  });

  it('rejects a retry that resends only part of an earlier batch', async () => {
    await db.genericEventStore.append('idem-2', [event('part', 0), event('part', 1)], {
      expectedVersion: 'no_stream',
    });
    await expect(
      db.genericEventStore.append('idem-2', [event('part', 1), event('part', 2)], {
        expectedVersion: 2,
      }),
    ).rejects.toBeInstanceOf(PartialDuplicateAppendError);
  });

  it('derives the same event id from the same command every time', () => {
    expect(eventIdFor('cmd-1', 0)).toBe(eventIdFor('cmd-1', 0));
    expect(eventIdFor('cmd-1', 0)).not.toBe(eventIdFor('cmd-1', 1));
    expect(deterministicId('a', 'b')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses an append that is not the first write of its transaction', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      await expect(
        client.query(
          `SELECT * FROM append_to_stream('late-1', 'late', 'any', ARRAY[$1::uuid], ARRAY['X'], ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb])`,
          [eventIdFor('late', 0)],
        ),
      ).rejects.toMatchObject({ code: 'SF001' });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(AppendNotFirstWriteError.name).toBe('AppendNotFirstWriteError');
  });

  describe('immutability', () => {
    beforeAll(async () => {
      await db.genericEventStore.append('immutable-1', [event('imm', 0)], {
        expectedVersion: 'no_stream',
      });
    });
    it.each([
      ['UPDATE', "UPDATE events SET data = '{}' WHERE stream_id = 'immutable-1'"],
      ['DELETE', "DELETE FROM events WHERE stream_id = 'immutable-1'"],
      ['TRUNCATE', 'TRUNCATE events'],
    ])('rejects %s', async (_op, sql) => {
      await expect(db.pool.query(sql)).rejects.toMatchObject({ code: 'SF403' });
      expect(await db.genericEventStore.readStream('immutable-1')).toHaveLength(1);
    });
  });
});
