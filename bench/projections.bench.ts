import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { createPool, migrate } from '../src/eventstore';
import { createLogger } from '../src/logger';
import { accountBalanceProjection } from '../src/projections';
import { createSystem } from '../src/system/createSystem';
import { orderSummaryRebuildEntry } from './projectionRebuild';
import { segmentedCatchUpEntry } from './projectionSegments';
import { seedAccounts as seed } from './support/seedAccounts';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const BATCH = 1000;

interface Row {
  global_position: string;
  stream_id: string;
  version: number;
  event_type: string;
  data: { accountId: string; ownerId?: string; balanceAfter?: number };
  created_at: Date;
}

/**
 * The floor: the same readAll query and order, the same version-guarded upserts with plain
 * pg, one transaction per batch, but no checkpoint, no upcasting, no ownership.
 */
async function bareCatchUp(url: string, table: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let after = '0';
  let applied = 0;
  try {
    for (;;) {
      const { rows } = await client.query<Row>(
        `WITH checkpoint AS (
           SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
         )
         SELECT global_position, stream_id, version, event_type, data, created_at
           FROM events, checkpoint
          WHERE (transaction_id, global_position) > (checkpoint.tx, $1::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND event_type = ANY($3)
          ORDER BY transaction_id, global_position
          LIMIT $2`,
        [after, BATCH, accountBalanceProjection.eventTypes],
      );
      if (rows.length === 0) return applied;
      await client.query('BEGIN');
      for (const row of rows) {
        if (row.event_type === 'AccountOpened') {
          await client.query(
            `INSERT INTO ${table} (account_id, owner_id, balance, status, version, last_changed_at, last_position)
             VALUES ($1, $2, 0, 'OPEN', 1, $3, $4) ON CONFLICT (account_id) DO NOTHING`,
            [row.data.accountId, row.data.ownerId, row.created_at, row.global_position],
          );
        } else {
          await client.query(
            `UPDATE ${table}
                SET balance = coalesce($3, balance), status = coalesce($4, status),
                    version = $2, last_changed_at = $5, last_position = $6
              WHERE account_id = $1 AND version = $2 - 1`,
            [
              row.data.accountId,
              row.version,
              row.data.balanceAfter ?? null,
              null,
              row.created_at,
              row.global_position,
            ],
          );
        }
      }
      await client.query('COMMIT');
      applied += rows.length;
      after = rows[rows.length - 1]!.global_position;
    }
  } finally {
    await client.end();
  }
}

/** The runner as start:projector builds it: the system's pool (4 connections) and store. */
async function oursCatchUp(url: string, head: string): Promise<void> {
  const system = createSystem(
    { ...loadConfig({ LOG_LEVEL: 'silent' }), DATABASE_URL: url },
    {
      applicationName: 'bench-projections',
      logger: createLogger('silent', 'bench-projections'),
      poolMax: 4,
      inlineProjection: false,
    },
  );
  const { pool } = system;
  const runner = system.projectionRunner({
    projections: [accountBalanceProjection],
    batchSize: BATCH,
    pollIntervalMs: 1000,
  });
  await runner.start();
  try {
    for (;;) {
      const { rows } = await pool.query<{ position: string }>(
        "SELECT position FROM projection_checkpoints WHERE name = 'account_balance'",
      );
      if (rows[0]?.position === head) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await runner.stop();
    await system.close();
  }
}

export const projectionsSuite: BenchSuite = {
  name: 'projections',
  description:
    'catch-up of account_balance vs a bare read-and-upsert loop; a rebuild of order_summary vs a bare batched loop',
  async run(context: BenchContext): Promise<BenchEntries> {
    const events = context.scaled(100_000, 1_000);
    const { url } = await context.databases.create('projections');
    await migrate(url);
    const pool = createPool(url, { max: 4, applicationName: 'bench-projections-bare' });
    try {
      context.log(`seeding ${events} account events`);
      await seed(pool, events);
      const { rows } = await pool.query<{ head: string; n: string }>(
        'SELECT max(global_position)::text AS head, count(*)::text AS n FROM events',
      );
      const head = rows[0]!.head;
      const total = Number(rows[0]!.n);
      await pool.query('CREATE TABLE bare_account_balance (LIKE account_balance_g1 INCLUDING ALL)');
      await pool.query('SELECT count(*) FROM events'); // warm the cache for both

      context.log('bare loop');
      let started = performance.now();
      const bareApplied = await bareCatchUp(url, 'bare_account_balance');
      const bareSeconds = (performance.now() - started) / 1000;
      if (bareApplied !== total) throw new Error(`bare applied ${bareApplied} of ${total}`);

      context.log('projection runner');
      started = performance.now();
      await oursCatchUp(url, head);
      const oursSeconds = (performance.now() - started) / 1000;

      const diff = await pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM (
           (SELECT * FROM account_balance EXCEPT SELECT * FROM bare_account_balance)
           UNION ALL
           (SELECT * FROM bare_account_balance EXCEPT SELECT * FROM account_balance)) d`,
      );
      if (diff.rows[0]!.n !== '0') throw new Error(`read models differ in ${diff.rows[0]!.n} rows`);

      const ours = total / oursSeconds;
      const bare = total / bareSeconds;
      context.log(
        `ours ${Math.round(ours)} events/s (${oursSeconds.toFixed(2)} s), bare ${Math.round(bare)} events/s (${bareSeconds.toFixed(2)} s)`,
      );
      const segmented = await segmentedCatchUpEntry(context);
      const rebuild = await orderSummaryRebuildEntry(context);
      return {
        projection_catchup_2proc_vs_1proc: segmented,
        projection_rebuild_order_summary: rebuild,
        projection_catchup_vs_bare: compare({ rate: ours }, { rate: bare }, 'events/s', {
          goal: 0.8,
          events: total,
          batchSize: BATCH,
          projection: 'account_balance',
        }),
      };
    } finally {
      await pool.end();
    }
  },
};
