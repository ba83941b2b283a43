import { Client } from 'pg';
import { TEST_DATABASE_URL } from '../support/infrastructure';
import { connectInfrastructure, ModelSystem, type SharedInfrastructure } from './system';

/**
 * Found while building the model test (not in the known-defect list): the projections read
 * only events of transactions older than the oldest running transaction of the whole
 * Postgres cluster (`pg_snapshot_xmin`), so a transaction left open in ANY database of the
 * server stalls every projection, and /admin/projections meanwhile reports no lag.
 */

let infra: SharedInfrastructure;
let system: ModelSystem;
beforeAll(async () => {
  infra = await connectInfrastructure();
  system = await new ModelSystem(infra).start();
});
afterAll(async () => {
  await system?.stop();
  await infra?.env.teardown();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a transaction open in another database does not stall the read models', async () => {
  const opened = await system.inject({
    method: 'POST',
    url: '/accounts',
    payload: { accountId: 'stall-1', ownerId: 'o', initialDeposit: 100 },
  });
  expect(opened.statusCode).toBe(201);

  // Another application's transaction on the same server, in its own database.
  const other = new Client({
    connectionString: process.env[TEST_DATABASE_URL] ?? process.env.DATABASE_URL,
  });
  await other.connect();
  try {
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');

    const deposit = await system.inject({
      method: 'POST',
      url: '/accounts/stall-1/deposits',
      payload: { amount: 50 },
    });
    expect(deposit.statusCode).toBe(201);

    let balance: unknown;
    for (let i = 0; i < 25; i++) {
      balance = (await system.inject({ url: '/accounts/stall-1' })).json<{ balance: unknown }>()
        .balance;
      if (Number(balance) === 150) break;
      await sleep(200);
    }
    const lag = (await system.inject({ url: '/admin/projections' })).json<{
      projections: Array<{ name: string; lagEvents: number }>;
    }>();
    expect({
      balance: Number(balance),
      lag: lag.projections.find((p) => p.name === 'account_balance')?.lagEvents ?? 0,
    }).toEqual({
      balance: 150,
      lag: 0,
    });
  } finally {
    await other.query('ROLLBACK').catch(() => undefined);
    await other.end();
  }
});
