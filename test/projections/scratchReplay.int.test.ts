import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountBalanceProjection,
  ProjectionRunner,
  rebuildProjection,
  type Projection,
} from '../../src/projections';
import { replayIntoScratch, type ScratchReplayProgress } from '../../src/projections/scratchReplay';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { waitCaughtUp } from './support';

const ROOT = path.resolve(__dirname, '../..');

/**
 * `replay <name> --from --to --types --into` and `rebuild <name> --as-of`: scratch read models
 * of part of the log, compared row for row with references built another way: the live read
 * model copied at the instant itself, and a full rebuild of a projection restricted to the
 * same event types.
 */
describe('scratch replays of a time range, of event types and as of an instant', () => {
  jest.setTimeout(180_000);
  let db: TestDatabase;
  let runner: ProjectionRunner;
  const balances = new Map<string, { version: number; balance: number }>();
  /** Between phase A and B, and between B and C. */
  let from: Date;
  let asOf: Date;
  const phaseB = ['b1', 'b2', 'b3', 'y'];

  const append = async (id: string, type: string, data: Record<string, unknown>) => {
    const account = balances.get(id) ?? { version: 0, balance: 0 };
    await db.eventStore.append(
      `account-${id}`,
      [{ eventId: crypto.randomUUID(), type, data: { accountId: id, ...data } }],
      { expectedVersion: account.version === 0 ? 'no_stream' : account.version },
    );
    balances.set(id, { ...account, version: account.version + 1 });
  };
  const open = (id: string) =>
    append(id, 'AccountOpened', { ownerId: 'o', openedAt: new Date().toISOString() });
  const move = (id: string, type: 'FundsDeposited' | 'AccountDebited', amount: number) => {
    const balanceAfter = balances.get(id)!.balance + (type === 'FundsDeposited' ? amount : -amount);
    const appended = append(id, type, { amount, reference: crypto.randomUUID(), balanceAfter });
    return appended.then(() => {
      balances.get(id)!.balance = balanceAfter;
    });
  };
  /** The database's clock, with a few ms of nothing recorded on either side. */
  const instant = async () => {
    await sleep(5);
    const result = await db.pool.query<{ at: Date }>('SELECT clock_timestamp() AS at');
    await sleep(5);
    return result.rows[0]!.at;
  };
  const rowsOf = async (table: string, where = 'true', parameters: unknown[] = []) =>
    (
      await db.pool.query<Record<string, unknown>>(
        `SELECT * FROM ${table} WHERE ${where} ORDER BY account_id`,
        parameters,
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase('scratch_replay');
    runner = new ProjectionRunner({
      pool: db.pool,
      eventStore: db.eventStore,
      projections: [accountBalanceProjection],
      pollIntervalMs: 20,
      log: () => {},
    });
    await runner.start();
    // Phase A: accounts a1, a2 and x (which goes on in phase B).
    for (const id of ['a1', 'a2', 'x']) {
      await open(id);
      await move(id, 'FundsDeposited', 1000);
      await move(id, 'AccountDebited', 100);
      await move(id, 'FundsDeposited', 50);
    }
    from = await instant();
    // Phase B: accounts that begin here (y goes on in phase C), and more for x.
    for (const id of phaseB) {
      await open(id);
      await move(id, 'FundsDeposited', 500);
      await move(id, 'AccountDebited', 20);
      await move(id, 'FundsDeposited', 7);
    }
    await move('x', 'FundsDeposited', 5);
    await waitCaughtUp(db, accountBalanceProjection);
    asOf = await instant();
    // The reference for the instant: the live read model as it was then.
    await db.pool.query('CREATE TABLE live_at_instant AS SELECT * FROM account_balance');
    await sleep(5);
    // Phase C: y and a1 go on, c1 begins.
    await move('y', 'AccountDebited', 1);
    await move('a1', 'FundsDeposited', 1);
    await open('c1');
    await move('c1', 'FundsDeposited', 3);
    await waitCaughtUp(db, accountBalanceProjection);
  });
  afterAll(async () => {
    await runner?.stop();
    await db?.drop();
  });

  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        path.join(ROOT, 'node_modules/.bin/tsx'),
        ['src/projections/cli.ts', ...args],
        { cwd: ROOT, env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' } },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });

  it('rebuild --as-of (CLI) equals the live read model copied at that instant, row for row', async () => {
    const result = await cli('rebuild', 'account_balance', '--as-of', asOf.toISOString());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const table = /scratch table (\S+) built/.exec(result.stdout)?.[1];
    expect(table).toMatch(/^account_balance_asof_\d{8}_\d{6}$/);
    const expected = await rowsOf('live_at_instant');
    expect(expected).toHaveLength(7);
    expect(await rowsOf(table!)).toEqual(expected);
    // The live read model moved on since; the scratch table did not follow.
    expect(await rowsOf('account_balance')).not.toEqual(expected);
  });

  it('replay --from --to equals the instant copy of the streams that began in the range', async () => {
    const progress: ScratchReplayProgress[] = [];
    const result = await replayIntoScratch(
      db,
      'account_balance',
      { from, to: asOf, into: 'balances_in_range' },
      (p) => progress.push(p),
    );
    // Phase B: 4 accounts × 4 events, and x's deposit (no row: x began before the range).
    expect(result.events).toBe(17);
    expect(progress.at(-1)).toMatchObject({ done: 17, total: 17 });
    const expected = await rowsOf('live_at_instant', 'account_id = ANY($1)', [phaseB]);
    expect(expected).toHaveLength(4);
    expect(await rowsOf('balances_in_range')).toEqual(expected);
  });

  it('replay --types equals a full rebuild of the projection restricted to those types', async () => {
    const types = ['AccountOpened', 'FundsDeposited'];
    const restricted: Projection = {
      ...accountBalanceProjection,
      name: 'account_balance_typed',
      eventTypes: types,
    };
    await rebuildProjection(db, restricted.name, undefined, { projections: [restricted] });
    await replayIntoScratch(
      db,
      'account_balance',
      { eventTypes: types, into: 'balances_typed' },
      undefined,
      { batchSize: 3 },
    );
    const expected = await rowsOf('account_balance_typed');
    expect(expected).toHaveLength(8);
    // The debit (version 3) breaks every chain: rows stop at version 2.
    expect(expected.every((row) => row.version === 2)).toBe(true);
    expect(await rowsOf('balances_typed')).toEqual(expected);
  });

  it('replay of the whole log equals a full rebuild', async () => {
    await replayIntoScratch(db, 'account_balance', { into: 'balances_all' }, undefined, {
      batchSize: 4,
    });
    await rebuildProjection(db, 'account_balance');
    const expected = await rowsOf('account_balance');
    expect(expected).toHaveLength(8);
    expect(await rowsOf('balances_all')).toEqual(expected);
  });

  it('overwrites only a scratch table, and only with --replace', async () => {
    await expect(
      replayIntoScratch(db, 'account_balance', { to: asOf, into: 'balances_in_range' }),
    ).rejects.toThrow('table balances_in_range exists: pass --replace');
    await replayIntoScratch(db, 'account_balance', {
      to: asOf,
      into: 'balances_in_range',
      replace: true,
    });
    expect(await rowsOf('balances_in_range')).toEqual(await rowsOf('live_at_instant'));
    for (const into of ['live_at_instant', 'projection_checkpoints', 'account_balance_typed']) {
      await expect(
        replayIntoScratch(db, 'account_balance', { into, replace: true }),
      ).rejects.toThrow(`${into} is not a scratch table made by a replay: refusing to replace it`);
    }
    await expect(
      replayIntoScratch(db, 'account_balance', { into: 'account_balance_g9', replace: true }),
    ).rejects.toThrow("projection account_balance's own view or generation tables");
    const note = await db.pool.query<{ note: string }>(
      "SELECT obj_description('balances_in_range'::regclass, 'pg_class') AS note",
    );
    expect(note.rows[0]!.note).toContain('sagaflow scratch read model (complete): account_balance');
  });

  it('refuses bad input with a clear message, exit code 2 and no stack trace (CLI)', async () => {
    // A few through the real CLI (each run starts tsx: seconds on a busy machine); the
    // argument checks one by one are in recoveryCommands.unit.test.ts.
    const cases: [string[], string][] = [
      [['replay', 'no_such', '--into', 'scratch_x'], 'no projection named no_such'],
      [
        ['rebuild', 'account_balance', '--as-of', 'yesterday'],
        '--as-of "yesterday" is no ISO 8601 instant',
      ],
      [
        [
          'replay',
          'account_balance',
          '--from',
          '2026-12-02T00:00:00Z',
          '--to',
          '2026-12-01T00:00:00Z',
          '--into',
          'scratch_x',
        ],
        '--from 2026-12-02T00:00:00.000Z is after --to 2026-12-01T00:00:00.000Z',
      ],
      [['replay', 'account_balance', '--into', 'x; DROP TABLE events'], 'is no safe table name'],
      [['replay', 'account_balance', '--into', 'events'], 'table events exists'],
      [['rebuild', 'account_balance', '--stream', 'order-1'], 'is not a account_balance stream'],
    ];
    for (let i = 0; i < cases.length; i += 2) {
      const pair = cases.slice(i, i + 2);
      const results = await Promise.all(pair.map(([args]) => cli(...args)));
      results.forEach((result, j) => {
        const [args, message] = pair[j]!;
        expect({ args, code: result.code }).toEqual({ args, code: 2 });
        expect(result.stderr).toContain(message);
        expect(result.stderr).not.toMatch(/^\s+at /m);
      });
    }
    const tables = await db.pool.query("SELECT 1 FROM pg_class WHERE relname = 'scratch_x'");
    expect(tables.rows).toEqual([]);
  });

  it("refuses types that are not the projection's, and an unsafe table name", async () => {
    await expect(
      replayIntoScratch(db, 'account_balance', { eventTypes: ['OrderPlaced'], into: 'scratch_y' }),
    ).rejects.toThrow('--types OrderPlaced: not event types of account_balance');
    await expect(replayIntoScratch(db, 'account_balance', { into: 'Balances' })).rejects.toThrow(
      'is no safe table name',
    );
  });

  it('rebuild --stream (CLI) recomputes one account in the live generation', async () => {
    await db.pool.query("UPDATE account_balance SET balance = 0 WHERE account_id = 'x'");
    const result = await cli('rebuild', 'account_balance', '--stream', 'account-x');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('rebuilt 1 stream(s)');
    const row = await db.pool.query<{ balance: string }>(
      "SELECT balance FROM account_balance WHERE account_id = 'x'",
    );
    expect(Number(row.rows[0]!.balance)).toBe(balances.get('x')!.balance);
  });
});
