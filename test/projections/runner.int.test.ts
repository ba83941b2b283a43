import { ProjectionRunner, projectionOwnerPid } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { appendTicks, countRows, logProjection, statusOf, waitCaughtUp, waitFor } from './support';

const quiet = () => {};

describe('projection catch-up runner', () => {
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
      log: quiet,
      ...options,
    });
    runners.push(created);
    return created;
  };

  beforeAll(async () => {
    db = await createTestDatabase('projection_runner');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });
  afterAll(() => db.drop());

  it('a crash between the handler and the checkpoint commit does not apply twice', async () => {
    const projection = logProjection('crash_log');
    const positions = await appendTicks(db, 50);
    let calls = 0;
    const crashing = runner({
      projections: [projection],
      batchSize: 10,
      maxAttempts: 1,
      beforeCheckpoint: () => {
        calls++;
        if (calls >= 3) throw new Error('simulated crash before the checkpoint commit');
      },
    });
    await crashing.start();
    const failed = await waitFor(async () => {
      const status = await statusOf(db, projection);
      return status.state === 'failing' && status;
    }, 'the crash');
    await crashing.stop();
    // Two batches committed; the third rolled back with its checkpoint.
    expect(failed.checkpoint).toBe(positions[19]!.toString());
    expect(await countRows(db, 'crash_log')).toEqual({ total: 20, distinct: 20 });

    await runner({ projections: [projection], batchSize: 10 }).start();
    const status = await waitCaughtUp(db, projection);
    expect(status.checkpoint).toBe(positions[49]!.toString());
    expect(status.error).toBeNull();
    expect(await countRows(db, 'crash_log')).toEqual({ total: 50, distinct: 50 });
  });

  it('two runners started together apply every event exactly once', async () => {
    const projection = logProjection('twin_log');
    await appendTicks(db, 300);
    const a = runner({ projections: [projection], batchSize: 25 });
    const b = runner({ projections: [projection], batchSize: 25 });
    await Promise.all([a.start(), b.start()]);
    const more = appendTicks(db, 200); // while they run
    await more;
    await waitCaughtUp(db, projection);
    const total = await db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE event_type = 'Tick'",
    );
    const rows = await countRows(db, 'twin_log');
    expect(rows.total).toBe(Number(total.rows[0]!.n));
    expect(rows.distinct).toBe(rows.total);
    expect(a.owned.length + b.owned.length).toBe(1);
  });

  it('a poison event stops only its projection, with its position and error in the status', async () => {
    const poisoned = logProjection('poisoned_log', {
      poison: (event) => (event.data as { poison?: boolean }).poison === true,
    });
    const healthy = logProjection('healthy_log');
    // Start both at the current head so they only see the events below.
    const before = await appendTicks(db, 1);
    const r0 = runner({ projections: [poisoned, healthy] });
    await r0.start();
    await waitCaughtUp(db, poisoned);
    await waitCaughtUp(db, healthy);
    await r0.stop();
    const baseline = await countRows(db, 'poisoned_log');
    expect(before).toHaveLength(1);

    const positions = await appendTicks(db, 10, (index) => (index === 5 ? { poison: true } : {}));
    await runner({ projections: [poisoned, healthy], maxAttempts: 3 }).start();
    const failed = await waitFor(async () => {
      const status = await statusOf(db, poisoned);
      return status.state === 'failing' && status;
    }, 'the poisoned projection to fail');
    expect(failed.error?.position).toBe(positions[5]!.toString());
    expect(failed.error?.message).toContain('poison event');
    expect(failed.checkpoint).toBe(positions[4]!.toString());
    expect(failed.lagEvents).toBe(5);
    expect((await countRows(db, 'poisoned_log')).total).toBe(baseline.total + 5);

    // The other projection goes on, also with events appended after the failure.
    await appendTicks(db, 3);
    const ok = await waitCaughtUp(db, healthy);
    expect(ok.state).toBe('running');
    expect(ok.error).toBeNull();
    expect((await statusOf(db, poisoned)).state).toBe('failing');
  });

  it('reports lag while the runner is paused', async () => {
    const projection = logProjection('lag_log');
    const r = runner({ projections: [projection] });
    await r.start();
    await waitCaughtUp(db, projection);
    await r.stop();
    await appendTicks(db, 7);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const status = await statusOf(db, projection);
    expect(status.lagEvents).toBe(7);
    expect(status.lagSeconds).toBeGreaterThan(1);
    expect(status.state).toBe('idle');

    await runner({ projections: [projection] }).start();
    const caughtUp = await waitCaughtUp(db, projection);
    expect(caughtUp.lagSeconds).toBe(0);
    expect(caughtUp.eventsPerSecond).toBeGreaterThan(0);
  });

  it('another runner takes over when the owner’s connection dies', async () => {
    const projection = logProjection('takeover_log');
    await appendTicks(db, 20);
    const a = runner({ projections: [projection] });
    await a.start();
    await waitCaughtUp(db, projection);
    expect(a.owned).toEqual(['takeover_log']);
    const b = runner({ projections: [projection] });
    await b.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.owned).toEqual([]);

    const pid = await projectionOwnerPid(db.pool, 'takeover_log');
    expect(pid).not.toBeNull();
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await appendTicks(db, 20);
    await waitFor(async () => b.owned.length === 1 || a.owned.length === 1, 'a new owner');
    await waitCaughtUp(db, projection);
    const newPid = await projectionOwnerPid(db.pool, 'takeover_log');
    expect(newPid).not.toBe(pid);
    const rows = await countRows(db, 'takeover_log');
    expect(rows.total).toBe(rows.distinct);
    const ticks = await db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM events WHERE event_type = 'Tick'",
    );
    expect(rows.total).toBe(Number(ticks.rows[0]!.n));
  });
});
