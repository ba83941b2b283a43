import { execFile } from 'node:child_process';
import path from 'node:path';
import { accountBalanceProjection, ProjectionRunner } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { statusOf, waitCaughtUp, waitFor } from './support';

const ROOT = path.resolve(__dirname, '../..');

/**
 * `npm run projections -- status | skip | dead-letters` as an operator runs them, against a
 * built-in projection stuck on a malformed event (an AccountOpened without its owner, as a
 * buggy producer could append it: the read model's owner_id is NOT NULL).
 */
describe('projections CLI for a stuck projection', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  let runner: ProjectionRunner;

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

  beforeAll(async () => {
    db = await createTestDatabase('projection_cli');
    runner = new ProjectionRunner({
      pool: db.pool,
      eventStore: db.eventStore,
      projections: [accountBalanceProjection],
      pollIntervalMs: 100,
      retryBaseMs: 5,
      maxAttempts: 2,
      failureRetryBaseMs: 60_000,
      log: () => {},
    });
  });
  afterAll(async () => {
    await runner?.stop();
    await db?.drop();
  });

  it('shows the stuck event, refuses the wrong one, skips the right one and lists it', async () => {
    // Rows as a store without schema checks wrote them (the broken one could not enter now).
    await db.genericEventStore.append(
      'account-fine',
      [
        {
          eventId: crypto.randomUUID(),
          type: 'AccountOpened',
          data: { accountId: 'fine', ownerId: 'o' },
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    const bad = await db.genericEventStore.append(
      'account-broken',
      [{ eventId: crypto.randomUUID(), type: 'AccountOpened', data: { accountId: 'broken' } }],
      { expectedVersion: 'no_stream' },
    );
    const after = await db.genericEventStore.append(
      'account-later',
      [
        {
          eventId: crypto.randomUUID(),
          type: 'AccountOpened',
          data: { accountId: 'later', ownerId: 'o' },
        },
      ],
      { expectedVersion: 'no_stream' },
    );
    await runner.start();
    const stuck = await waitFor(async () => {
      const status = await statusOf(db, accountBalanceProjection);
      return status.error !== null && status;
    }, 'account_balance to get stuck');
    const position = bad.lastPosition.toString();
    expect(stuck.error?.position).toBe(position);

    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`account_balance is failing at position ${position}`);
    expect(status.stdout).toContain(stuck.error!.eventId!);
    expect(status.stdout).toContain('owner_id');
    expect(status.stdout).toContain(`skip account_balance --event ${position}`);

    const wrong = await cli(
      'skip',
      'account_balance',
      '--event',
      after.lastPosition.toString(),
      '--reason',
      'x',
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`stuck at position ${position}`);
    const noReason = await cli('skip', 'account_balance', '--event', position);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason');

    const skipped = await cli(
      'skip',
      'account_balance',
      '--event',
      position,
      '--reason',
      'opened without an owner by a buggy producer',
      '--by',
      'ops-alice',
    );
    expect(skipped.stderr).toBe('');
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain(`at position ${position}`);
    const caughtUp = await waitCaughtUp(db, accountBalanceProjection, 5_000);
    expect(caughtUp.state).toBe('running');
    const rows = await db.pool.query<{ account_id: string }>(
      'SELECT account_id FROM account_balance ORDER BY account_id',
    );
    expect(rows.rows.map((r) => r.account_id)).toEqual(['fine', 'later']);

    const listed = await cli('dead-letters', 'account_balance');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('opened without an owner by a buggy producer');
    expect(listed.stdout).toContain('ops-alice');
    expect(listed.stdout).toContain(stuck.error!.eventId!);
  });
});
