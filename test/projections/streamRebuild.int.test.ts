import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountBalanceProjection,
  createInlineProjector,
  ProjectionRunner,
  rebuildProjection,
  type Projection,
} from '../../src/projections';
import { rebuildStreams } from '../../src/projections/rebuildStreams';
import { ReplayRefusedError } from '../../src/projections/replayRefused';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { logProjection, waitCaughtUp } from './support';

const quiet = () => {};

/**
 * `rebuild <name> --stream`: a few aggregates' rows are recomputed in the live generation
 * while appends and the live runner go on. The first test uses a handler WITHOUT version
 * guard (one row per application), so any event applied twice, or lost, shows.
 */
describe('rebuild of selected streams while the projector runs', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  const runners: ProjectionRunner[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('stream_rebuild');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
  });
  afterAll(() => db?.drop());

  const startRunner = async (projection: Projection, batchSize: number) => {
    const runner = new ProjectionRunner({
      pool: db.pool,
      eventStore: db.eventStore,
      projections: [projection],
      pollIntervalMs: 20,
      batchSize,
      // Widens the window between a batch's handler and its checkpoint commit.
      beforeCheckpoint: () => sleep(2),
      log: quiet,
    });
    runners.push(runner);
    await runner.start();
    return runner;
  };

  it('applies every event exactly once with appends, the runner and stream rebuilds racing', async () => {
    const projection: Projection = {
      ...logProjection('stream_rebuild_log'),
      streamRows: { column: 'stream_id', streamPrefix: '' },
    };
    const streams = Array.from({ length: 12 }, (_, i) => `tick-race-${i}`);
    const append = (streamId: string, n: number) =>
      db.genericEventStore.append(
        streamId,
        Array.from({ length: n }, () => ({ eventId: crypto.randomUUID(), type: 'Tick', data: {} })),
        { expectedVersion: 'any' },
      );
    for (const streamId of streams) await append(streamId, 3);
    await startRunner(projection, 7);

    let appending = true;
    const appender = (async () => {
      for (let i = 0; appending; i++) {
        await append(streams[i % streams.length]!, 1 + (i % 3));
        if (i % 4 === 0) await sleep(1);
      }
    })();
    let rebuilds = 0;
    let reapplied = 0;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const picked = [streams[rebuilds % 12]!, streams[(rebuilds * 5 + 1) % 12]!];
      const result = await rebuildStreams(db, projection.name, picked, {
        projections: [projection],
        // Between reading the checkpoint and deleting the rows: a runner batch that could
        // commit here (no lock) would be deleted and never re-applied.
        afterCheckpointRead: () => sleep(5 + (rebuilds % 10)),
      });
      rebuilds++;
      reapplied += result.events;
      // Each rebuild transaction holds an xid, so catch-up readers (the runner) see no newer
      // appends while one is open: back to back, they would starve the runner.
      await sleep(10);
    }
    appending = false;
    await appender;
    await waitCaughtUp(db, projection, 30_000);

    expect(rebuilds).toBeGreaterThan(20);
    expect(reapplied).toBeGreaterThan(2 * rebuilds);
    const twice = await db.pool.query(
      `SELECT position, count(*)::int AS n FROM stream_rebuild_log GROUP BY position HAVING count(*) > 1`,
    );
    expect(twice.rows).toEqual([]);
    const missing = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events e
        WHERE e.event_type = 'Tick'
          AND NOT EXISTS (SELECT 1 FROM stream_rebuild_log l WHERE l.position = e.global_position)`,
    );
    expect(missing.rows[0]!.n).toBe(0);
    const extra = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM stream_rebuild_log l
        WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.global_position = l.position
                                                   AND e.stream_id = l.stream_id AND e.version = l.version)`,
    );
    expect(extra.rows[0]!.n).toBe(0);
  });

  it('repairs corrupted account rows with deposits, inline projection and the runner racing; then equals a full rebuild', async () => {
    const accounts = Array.from({ length: 8 }, (_, i) => `acct-${i}`);
    const balances = new Map(accounts.map((id) => [id, 0]));
    // Inline projection writes the same rows as the runner, without the checkpoint lock.
    const inline = createInlineProjector(db.pool, [accountBalanceProjection], quiet);
    const deposit = async (id: string, version: number, amount: number) => {
      const balanceAfter = balances.get(id)! + amount;
      balances.set(id, balanceAfter);
      await db.eventStore.append(
        `account-${id}`,
        [
          {
            eventId: crypto.randomUUID(),
            type: 'FundsDeposited',
            data: { accountId: id, amount, reference: `r-${version}`, balanceAfter },
          },
        ],
        { expectedVersion: version - 1 },
      );
      await inline(
        await db.eventStore.readStream(`account-${id}`, {
          fromVersion: version,
          toVersion: version,
        }),
      );
    };
    const versions = new Map(accounts.map((id) => [id, 1]));
    for (const id of accounts) {
      await db.eventStore.append(
        `account-${id}`,
        [
          {
            eventId: crypto.randomUUID(),
            type: 'AccountOpened',
            data: { accountId: id, ownerId: 'o', openedAt: new Date().toISOString() },
          },
        ],
        { expectedVersion: 'no_stream' },
      );
    }
    const depositNext = async (i: number) => {
      const id = accounts[i % accounts.length]!;
      const version = versions.get(id)! + 1;
      versions.set(id, version);
      await deposit(id, version, 100 + i);
    };
    for (let i = 0; i < 40; i++) await depositNext(i);
    await startRunner(accountBalanceProjection, 5);
    await waitCaughtUp(db, accountBalanceProjection);

    // A handler bug wrote wrong figures for three accounts.
    const broken = ['acct-1', 'acct-4', 'acct-6'];
    await db.pool.query(
      `UPDATE account_balance_g1 SET balance = -1, status = 'FROZEN' WHERE account_id = ANY($1)`,
      [broken],
    );
    let appending = true;
    const appender = (async () => {
      for (let i = 40; appending; i++) await depositNext(i);
    })();
    await sleep(100);
    let result = await rebuildStreams(db, 'account_balance', ['account-acct-0']);
    for (let i = 0; i < 10; i++) {
      result = await rebuildStreams(
        db,
        'account_balance',
        broken.map((id) => `account-${id}`),
      );
      await sleep(20);
    }
    appending = false;
    await appender;
    await waitCaughtUp(db, accountBalanceProjection);

    expect(result.streams).toBe(3);
    expect(result.events).toBeGreaterThan(3);
    const repaired = await db.pool.query<{ account_id: string; balance: string }>(
      'SELECT account_id, balance FROM account_balance ORDER BY account_id',
    );
    expect(repaired.rows.map((row) => [row.account_id, Number(row.balance)])).toEqual(
      [...balances.entries()].sort(([a], [b]) => a.localeCompare(b)),
    );
    await db.pool.query('CREATE TABLE account_balance_repaired AS SELECT * FROM account_balance');
    await rebuildProjection(db, 'account_balance');
    const difference = await db.pool.query(
      `(SELECT * FROM account_balance_repaired EXCEPT SELECT * FROM account_balance)
       UNION ALL (SELECT * FROM account_balance EXCEPT SELECT * FROM account_balance_repaired)`,
    );
    expect(difference.rows).toEqual([]);
    const count = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM account_balance',
    );
    expect(count.rows[0]!.n).toBe(accounts.length);
  });

  it('leaves the events after the checkpoint to the runner, and says how many', async () => {
    const projection: Projection = {
      ...logProjection('stream_rebuild_pending'),
      eventTypes: ['Tock'], // not the Ticks of the other tests
      streamRows: { column: 'stream_id', streamPrefix: '' },
    };
    await db.genericEventStore.append(
      'tick-pending',
      [1, 2, 3].map(() => ({ eventId: crypto.randomUUID(), type: 'Tock', data: {} })),
      { expectedVersion: 'no_stream' },
    );
    // No runner has run: the checkpoint is at 0, so nothing is the rebuild's to apply.
    const before = await rebuildStreams(db, projection.name, ['tick-pending'], {
      projections: [projection],
    });
    expect(before).toMatchObject({ events: 0, pending: 3, checkpoint: 0n });
    await startRunner(projection, 2);
    await waitCaughtUp(db, projection);
    const after = await rebuildStreams(db, projection.name, ['tick-pending'], {
      projections: [projection],
    });
    expect(after).toMatchObject({ events: 3, pending: 0 });
    const rows = await db.pool.query('SELECT version FROM stream_rebuild_pending ORDER BY version');
    expect(rows.rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
  });

  it('refuses streams of another type, unknown streams and unknown projections', async () => {
    await expect(rebuildStreams(db, 'account_balance', ['order-1'])).rejects.toThrow(
      new ReplayRefusedError(
        'stream "order-1" is not a account_balance stream (expected account-<id>)',
      ),
    );
    await expect(rebuildStreams(db, 'account_balance', ['account-nobody'])).rejects.toThrow(
      'no account_balance events in stream(s) account-nobody',
    );
    await expect(rebuildStreams(db, 'no_such', ['account-1'])).rejects.toThrow(
      'no projection named no_such',
    );
  });
});
