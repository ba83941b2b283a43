/**
 * Recovery-time measurement (not part of `npm test`):
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx scripts/backup/measureRecovery.ts [events]
 *
 * Seeds a scratch database with `events` (default 1,000,000) valid account events by bulk
 * INSERT (10 events per account stream: AccountOpened + 9 FundsDeposited), then times
 * backup, restore (load) into a second scratch database, and the projection rebuild, and
 * checks the rebuilt account_balance against the seed. Both databases are dropped after.
 */
import { randomBytes } from 'node:crypto';
import { stat, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../src/eventstore';
import { backupDatabase } from './backup';
import { restoreDatabase } from './restore';
import { withDatabase } from '../../src/infra/databaseUrl';

const EVENTS_PER_ACCOUNT = 10;

async function admin<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function seed(url: string, accounts: number): Promise<void> {
  const chunk = 10_000;
  await admin(url, async (db) => {
    for (let from = 1; from <= accounts; from += chunk) {
      const to = Math.min(accounts, from + chunk - 1);
      await db.query(
        `INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
         SELECT 'account-m' || a, 'account', v, gen_random_uuid(),
                CASE WHEN v = 1 THEN 'AccountOpened' ELSE 'FundsDeposited' END, 1,
                CASE WHEN v = 1
                  THEN jsonb_build_object('accountId', 'm' || a, 'ownerId', 'owner-' || a, 'openedAt', now())
                  ELSE jsonb_build_object('accountId', 'm' || a, 'amount', 100,
                                          'reference', 'seed-' || a || '-' || v, 'balanceAfter', 100 * (v - 1))
                END,
                jsonb_build_object('correlation_id', 'seed-' || a, 'causation_id', 'seed-' || a,
                                   'command_id', 'seed-' || a || '-' || v, 'command_type', 'Seed')
           FROM generate_series($1::int, $2::int) a, generate_series(1, $3::int) v
          ORDER BY a, v`,
        [from, to, EVENTS_PER_ACCOUNT],
      );
    }
    await db.query(
      `INSERT INTO data_subject_keys (subject_id, key)
       SELECT 'customer-' || s, decode(md5(s::text) || md5((s + 1)::text), 'hex')
         FROM generate_series(1, 1000) s`,
    );
    await db.query('ANALYZE events');
  });
}

async function main(): Promise<void> {
  const server = process.env.DATABASE_URL;
  if (!server)
    throw new Error('DATABASE_URL (a server to create scratch databases on) is required');
  const events = Number(process.argv[2] ?? 1_000_000);
  const accounts = Math.ceil(events / EVENTS_PER_ACCOUNT);
  const suffix = randomBytes(4).toString('hex');
  const source = `sagaflow_measure_src_${suffix}`;
  const target = `sagaflow_measure_dst_${suffix}`;
  const file = path.join(os.tmpdir(), `sagaflow-measure-${suffix}.jsonl.gz`);
  const sourceUrl = withDatabase(server, source);
  const targetUrl = withDatabase(server, target);
  const log = (message: string) => console.error(`[${new Date().toISOString()}] ${message}`);
  const figures: Record<string, string> = {};
  const rate = (n: number, s: number) =>
    `${s.toFixed(1)} s, ${Math.round(n / s).toLocaleString('en')} events/s`;

  await admin(server, async (db) => {
    await db.query(`CREATE DATABASE ${source}`);
    await db.query(`CREATE DATABASE ${target}`);
  });
  try {
    await migrate(sourceUrl);
    let started = performance.now();
    await seed(sourceUrl, accounts);
    const seeded = accounts * EVENTS_PER_ACCOUNT;
    figures.seed = rate(seeded, (performance.now() - started) / 1000);
    log(`seeded ${seeded} events: ${figures.seed}`);

    const backup = await backupDatabase(sourceUrl, file, { log });
    figures.backup = `${rate(seeded, backup.seconds)}, ${((await stat(file)).size / 2 ** 20).toFixed(1)} MiB gzip`;
    log(`backup: ${figures.backup}`);

    started = performance.now();
    const restored = await restoreDatabase(targetUrl, file, { log });
    figures.restoreLoad = rate(seeded, restored.loadSeconds);
    figures.projectionRebuild = `${rate(seeded, restored.rebuildSeconds)} (4 projections in parallel, each scans the whole log)`;
    figures.restoreTotal = rate(seeded, (performance.now() - started) / 1000);
    figures.recoveryTotal = rate(seeded, backup.seconds + (performance.now() - started) / 1000);

    const check = await admin(targetUrl, (db) =>
      db.query<{ accounts: string; total: string }>(
        'SELECT count(*) AS accounts, sum(balance)::text AS total FROM account_balance',
      ),
    );
    const expectedTotal = accounts * 100 * (EVENTS_PER_ACCOUNT - 1);
    const row = check.rows[0];
    if (Number(row?.accounts) !== accounts || Number(row?.total) !== expectedTotal) {
      throw new Error(
        `rebuilt account_balance is wrong: ${JSON.stringify(row)}, expected ${accounts} / ${expectedTotal}`,
      );
    }
    figures.verified = `account_balance: ${accounts} accounts, total ${expectedTotal}`;
    console.log(JSON.stringify({ events: seeded, ...figures }, null, 2));
  } finally {
    await rm(file, { force: true });
    await admin(server, async (db) => {
      await db.query(`DROP DATABASE IF EXISTS ${source} WITH (FORCE)`);
      await db.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
    });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
