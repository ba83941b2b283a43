import type { RecordedEvent } from '../../src/eventstore';
import {
  listDeadLetters,
  NotStuckOnEventError,
  ProjectionRunner,
  rebuildProjection,
  skipStuckEvent,
  type Projection,
} from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { appendTicks, countRows, logProjection, statusOf, waitCaughtUp, waitFor } from './support';
import { setTimeout as sleep } from 'node:timers/promises';

const quiet = () => {};

/** Ticks carrying `marker` break the projection whose predicate looks for it. */
const marked = (marker: string) => (event: { data: unknown }) =>
  (event.data as { marker?: string }).marker === marker;

describe('a failing projection', () => {
  let db: TestDatabase;
  const runners: ProjectionRunner[] = [];
  const runner = (
    options: Omit<ConstructorParameters<typeof ProjectionRunner>[0], 'pool' | 'eventStore'>,
  ) => {
    const created = new ProjectionRunner({
      pool: db.pool,
      eventStore: db.eventStore,
      pollIntervalMs: 100,
      retryBaseMs: 5,
      maxAttempts: 2,
      log: quiet,
      ...options,
    });
    runners.push(created);
    return created;
  };
  const tickCount = async () =>
    Number(
      (
        await db.pool.query<{ n: string }>(
          "SELECT count(*) AS n FROM events WHERE event_type = 'Tick'",
        )
      ).rows[0]!.n,
    );

  beforeAll(async () => {
    db = await createTestDatabase('projection_failures');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });
  afterAll(() => db.drop());

  it('recovers by itself, without a restart, once a transient error is gone', async () => {
    let broken = true;
    const flaky = marked('flaky');
    const projection = logProjection('flaky_log', { poison: (event) => broken && flaky(event) });
    const positions = await appendTicks(db, 6, (i) => (i === 3 ? { marker: 'flaky' } : {}));
    const r = runner({
      projections: [projection],
      failureRetryBaseMs: 50,
      failureRetryMaxMs: 200,
    });
    await r.start();

    const failing = await waitFor(async () => {
      const status = await statusOf(db, projection);
      return status.error !== null && status;
    }, 'the projection to fail');
    expect(failing.state).toBe('failing');
    expect(failing.checkpoint).toBe(positions[2]!.toString());
    expect(failing.error).toMatchObject({
      position: positions[3]!.toString(),
      eventType: 'Tick',
    });
    expect(failing.error!.message).toContain('poison event');
    expect(failing.error!.message).toContain(failing.error!.eventId!);
    // It keeps retrying on its backoff while it still fails.
    await waitFor(async () => {
      const status = await statusOf(db, projection);
      return (status.error?.attempts ?? 0) >= failing.error!.attempts + 2;
    }, 'more retries');

    broken = false;
    const recovered = await waitCaughtUp(db, projection);
    expect(recovered.state).toBe('running');
    expect(recovered.error).toBeNull();
    expect(recovered.errorsTotal).toBeGreaterThanOrEqual(failing.error!.attempts + 2);
    expect(recovered.lastErrorAt).not.toBeNull();
    expect(r.owned).toEqual(['flaky_log']);
    expect(await countRows(db, 'flaky_log')).toEqual({
      total: await tickCount(),
      distinct: await tickCount(),
    });
  });

  it('a segment stuck on a poison event is skipped by the projection name, the others go on', async () => {
    const projection = {
      ...logProjection('poison_split', { poison: marked('poison-split') }),
      segments: 3,
    };
    const positions = await appendTicks(db, 30, (i) =>
      i === 12 ? { marker: 'poison-split' } : {},
    );
    await runner({
      projections: [projection],
      failureRetryBaseMs: 60_000,
      failureRetryMaxMs: 60_000,
    }).start();
    const stuck = await waitFor(async () => {
      const status = await statusOf(db, projection);
      return status.error !== null && status.segments!.every((s) => s.state !== 'idle') && status;
    }, 'a segment to get stuck');
    expect(stuck.error!.position).toBe(positions[12]!.toString());
    expect(stuck.segments!.filter((segment) => segment.state === 'failing')).toHaveLength(1);
    await skipStuckEvent(
      db,
      'poison_split',
      { position: positions[12]!, reason: 'malformed', skippedBy: 'test' },
      [projection],
    );
    const caughtUp = await waitCaughtUp(db, projection, 10_000);
    expect(caughtUp.state).toBe('running');
    const rows = await countRows(db, 'poison_split');
    expect(rows).toEqual({ total: (await tickCount()) - 1, distinct: (await tickCount()) - 1 });
  });

  it('stays stuck on a poison event, visibly, until an operator skips it', async () => {
    const projection = logProjection('poison_log', { poison: marked('poison') });
    const positions = await appendTicks(db, 8, (i) => (i === 4 ? { marker: 'poison' } : {}));
    // A backoff far beyond the test's waits: only the skip's notification can wake it.
    await runner({
      projections: [projection],
      failureRetryBaseMs: 60_000,
      failureRetryMaxMs: 60_000,
    }).start();
    const stuck = await waitFor(async () => {
      const status = await statusOf(db, projection);
      return status.error !== null && status;
    }, 'the projection to get stuck');
    await sleep(300);
    const still = await statusOf(db, projection);
    expect(still.state).toBe('failing');
    expect(still.checkpoint).toBe(stuck.checkpoint);
    expect(still.error).toMatchObject({
      position: positions[4]!.toString(),
      eventType: 'Tick',
    });
    expect(still.error!.message).toContain('poison event');
    expect(still.error!.nextRetryAt).not.toBeNull();

    // The wrong event is refused, and changes nothing.
    const skip = (position: bigint) =>
      skipStuckEvent(
        db,
        'poison_log',
        { position, reason: 'malformed test event', skippedBy: 'test' },
        [projection],
      );
    await expect(skip(positions[5]!)).rejects.toBeInstanceOf(NotStuckOnEventError);
    await expect(skip(positions[3]!)).rejects.toBeInstanceOf(NotStuckOnEventError);
    expect((await statusOf(db, projection)).checkpoint).toBe(stuck.checkpoint);
    expect(await listDeadLetters(db.pool, 'poison_log', { projections: [projection] })).toEqual([]);

    const deadLetter = await skip(positions[4]!);
    expect(deadLetter).toMatchObject({
      projection: 'poison_log',
      position: positions[4]!.toString(),
      eventId: still.error!.eventId,
      eventType: 'Tick',
      error: still.error!.message,
      reason: 'malformed test event',
      skippedBy: 'test',
    });
    const caughtUp = await waitCaughtUp(db, projection, 5_000);
    expect(caughtUp.state).toBe('running');
    expect(caughtUp.error).toBeNull();
    const rows = await countRows(db, 'poison_log');
    expect(rows).toEqual({ total: (await tickCount()) - 1, distinct: (await tickCount()) - 1 });
    const poisonRows = await db.pool.query('SELECT 1 FROM poison_log WHERE position = $1', [
      positions[4]!.toString(),
    ]);
    expect(poisonRows.rowCount).toBe(0);
    expect(await listDeadLetters(db.pool, 'poison_log', { projections: [projection] })).toEqual([
      deadLetter,
    ]);
    // Nothing to skip any more.
    await expect(skip(positions[4]!)).rejects.toBeInstanceOf(NotStuckOnEventError);

    // A rebuild replays the log from 0 and does not get stuck on the skipped event again.
    const rebuilt = await rebuildProjection(db, 'poison_log', undefined, {
      projections: [projection],
      maxAttempts: 1,
    });
    expect(rebuilt.generation).toBe(2);
    expect(await countRows(db, 'poison_log')).toEqual(rows);
  });

  it('a version-bump rebuild interrupted by a transient error resumes where it stopped', async () => {
    const calls = new Map<bigint, number>();
    let broken = true;
    const bumped = (version: number, fails: (event: RecordedEvent) => boolean): Projection => ({
      ...logProjection('bump_log'),
      version,
      async handle(db, event, table) {
        calls.set(event.globalPosition, (calls.get(event.globalPosition) ?? 0) + 1);
        if (fails(event)) throw new Error(`transient failure at ${event.globalPosition}`);
        await db.query(`INSERT INTO ${table} (position, stream_id, version) VALUES ($1, $2, $3)`, [
          event.globalPosition.toString(),
          event.streamId,
          event.version,
        ]);
      },
    });
    const v1 = bumped(1, () => false);
    await runner({ projections: [v1] }).start();
    await waitCaughtUp(db, v1);
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    const ticks = await appendTicks(db, 30, (i) => (i === 25 ? { marker: 'bump' } : {}));
    calls.clear();
    // Until no transaction of the cluster that began before these appends is open, the store
    // holds them back and the rebuild would switch over without them.
    await waitFor(async () => {
      const read = await db.eventStore.readAll({ after: 0n, limit: 100_000, eventTypes: ['Tick'] });
      return read.events.some((event) => event.globalPosition === ticks[29]);
    }, 'the new ticks to be readable');

    const v2 = bumped(2, (event) => broken && marked('bump')(event));
    await runner({
      projections: [v2],
      batchSize: 10,
      failureRetryBaseMs: 50,
      failureRetryMaxMs: 100,
    }).start();
    const failing = await waitFor(async () => {
      const status = await statusOf(db, v2);
      return status.error !== null && status;
    }, 'the rebuild to fail');
    expect(failing.rebuild).not.toBeNull();
    expect(failing.error?.position).toBe(ticks[25]!.toString());
    await waitFor(async () => {
      const status = await statusOf(db, v2);
      return (status.error?.attempts ?? 0) >= failing.error!.attempts + 3;
    }, 'more retries');

    broken = false;
    const done = await waitFor(async () => {
      const status = await statusOf(db, v2);
      return status.version === 2 && status.rebuild === null && status;
    }, 'the rebuild to switch over');
    expect(done.error).toBeNull();
    await waitCaughtUp(db, v2);
    // The first event's batch committed long before the failure: a resumed rebuild never
    // applies it again (a restarted one would, once per retry).
    const firstTick = (
      await db.pool.query<{ p: string }>(
        "SELECT min(global_position) AS p FROM events WHERE event_type = 'Tick'",
      )
    ).rows[0]!.p;
    expect(calls.get(BigInt(firstTick))).toBe(1);
    const total = await tickCount();
    expect(await countRows(db, 'bump_log')).toEqual({ total, distinct: total });
  });
});
