import { Client, type Pool } from 'pg';
import { CommandHandler } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import { createPool, PostgresEventStore } from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * The pool's statement and lock timeouts: a hung statement fails with Postgres' own error
 * instead of holding a stream's command queue (every order touches the merchant account).
 */
describe('connection limits of the pool', () => {
  // A regression hangs instead of failing: fail fast.
  jest.setTimeout(20_000);
  let db: TestDatabase;
  let limited: Pool;
  let blocker: Client;
  const now = () => new Date('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase('pool_limits');
    blocker = new Client({ connectionString: db.url });
    await blocker.connect();
  });
  afterEach(async () => {
    await limited?.end();
  });
  afterAll(async () => {
    await blocker?.end();
    await db?.drop();
  });

  const commandsOn = (pool: Pool) =>
    new DirectCommands(new CommandHandler(new PostgresEventStore(pool)), now);
  const deposit = (commands: DirectCommands, accountId: string, id: string) =>
    commands.deposit({ accountId, amount: 100, reference: id }, { commandId: id });
  /** Stands for a session stuck inside an append to the stream (it holds the stream's lock). */
  const holdStream = (streamId: string) =>
    blocker.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [streamId]);
  const releaseStream = (streamId: string) =>
    blocker.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [streamId]);

  it('a statement running longer than the statement timeout fails with a clear error', async () => {
    limited = createPool(db.url, { max: 2, statementTimeoutMs: 300 });
    const started = Date.now();
    await expect(limited.query('SELECT pg_sleep(5)')).rejects.toMatchObject({
      code: '57014',
      message: 'canceling statement due to statement timeout',
    });
    expect(Date.now() - started).toBeLessThan(3000);
    // The pool goes on serving.
    expect((await limited.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });

  it('a hung command on a hot stream times out and the next command of that stream runs', async () => {
    limited = createPool(db.url, { max: 4, statementTimeoutMs: 1000, lockTimeoutMs: 0 });
    const commands = commandsOn(limited);
    await commands.openAccount(
      { accountId: 'merchant', ownerId: 'shop', initialDeposit: 0 },
      { commandId: 'open/merchant' },
    );
    await holdStream('account-merchant');
    const started = Date.now();
    const hung = deposit(commands, 'merchant', 'd-1');
    // Queued behind the hung one in this process (one command per stream at a time).
    const next = deposit(commands, 'merchant', 'd-2');
    try {
      await expect(hung).rejects.toThrow('canceling statement due to statement timeout');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await releaseStream('account-merchant');
    }
    await expect(next).resolves.toMatchObject({ version: 2 });
  });

  it('a command waiting on a stuck lock holder fails at the lock timeout', async () => {
    limited = createPool(db.url, { max: 4, statementTimeoutMs: 10_000, lockTimeoutMs: 300 });
    const commands = commandsOn(limited);
    await commands.openAccount(
      { accountId: 'hot', ownerId: 'shop', initialDeposit: 0 },
      { commandId: 'open/hot' },
    );
    await holdStream('account-hot');
    const started = Date.now();
    try {
      await expect(deposit(commands, 'hot', 'h-1')).rejects.toThrow(
        'canceling statement due to lock timeout',
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await releaseStream('account-hot');
    }
    await expect(deposit(commands, 'hot', 'h-2')).resolves.toMatchObject({ version: 2 });
  });
});
