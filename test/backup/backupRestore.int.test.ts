import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGzip } from 'node:zlib';
import { Client, type Pool } from 'pg';
import { CommandHandler } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import { createPool, customerSubject, ERASED } from '../../src/eventstore';
import { createEventStore } from '../../src/application/eventStore';
import {
  ALL_PROJECTIONS,
  createInlineProjector,
  ProjectionRunner,
  rebuildProjection,
  skipStuckEvent,
} from '../../src/projections';
import { backupDatabase } from '../../scripts/backup/backup';
import { readBackupLines } from '../../scripts/backup/format';
import { restoreDatabase, RestoreRefusedError } from '../../scripts/backup/restore';
import { TEST_DATABASE_URL } from '../support/infrastructure';
import { SagaHarness } from '../support/sagaHarness';
import { createTestDatabase } from '../support/testDatabase';
import { withDatabase } from '../../src/infra/databaseUrl';

const READ_MODELS = ['order_summary', 'account_balance', 'inventory_level', 'transfer_summary'];

async function rows(pool: Pool, sql: string): Promise<unknown[]> {
  return (await pool.query<Record<string, unknown>>(sql)).rows;
}

/** Everything a restore must reproduce, in a comparable form. */
async function contents(pool: Pool) {
  const out: Record<string, unknown[]> = {
    // transaction_id is deliberately not kept (see scripts/backup/restore.ts).
    events: await rows(
      pool,
      `SELECT global_position, stream_id, stream_type, version, event_id, event_type, schema_version,
              data, metadata, created_at FROM events ORDER BY global_position`,
    ),
    snapshots: await rows(pool, 'SELECT * FROM snapshots ORDER BY stream_id'),
    data_subject_keys: await rows(
      pool,
      'SELECT * FROM data_subject_keys ORDER BY subject_id, generation',
    ),
    projection_dead_letters: await rows(pool, 'SELECT * FROM projection_dead_letters ORDER BY id'),
    api_idempotency_keys: await rows(
      pool,
      'SELECT * FROM api_idempotency_keys ORDER BY scope, key',
    ),
  };
  for (const view of READ_MODELS) out[view] = await rows(pool, `SELECT * FROM ${view} ORDER BY 1`);
  return out;
}

describe('backup and restore', () => {
  const h = new SagaHarness('backup', {
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
    }),
  });
  const server = () => process.env[TEST_DATABASE_URL] ?? process.env.DATABASE_URL ?? '';
  const created: string[] = [];
  let dir: string;
  let file: string;

  async function freshDatabase(label: string): Promise<string> {
    const name = `sagaflow_restore_${label}_${Math.random().toString(16).slice(2, 10)}`;
    const admin = new Client({ connectionString: server() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
    created.push(name);
    return withDatabase(server(), name);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sagaflow-backup-test-'));
    file = path.join(dir, 'store.jsonl.gz');
    await h.start();
    await h.openAccount('acc-a', 100_000);
    await h.openAccount('acc-b', 500);
    await h.restock('sku-1', 10);
    await h.restock('sku-2', 1);
    const sagas = await Promise.all([
      h.placeOrder({
        orderId: 'ok-1',
        customerId: 'c-live',
        paymentAccountId: 'acc-a',
        items: [{ sku: 'sku-1', quantity: 2, unitPrice: 1_000 }],
      }),
      h.placeOrder({
        orderId: 'broke-1',
        customerId: 'c-shred',
        paymentAccountId: 'acc-b',
        items: [{ sku: 'sku-1', quantity: 1, unitPrice: 9_000 }],
      }),
      h.placeOrder({
        orderId: 'oos-1',
        customerId: 'c-live',
        paymentAccountId: 'acc-a',
        items: [{ sku: 'sku-2', quantity: 5, unitPrice: 10 }],
      }),
      h.startTransfer('tr-1', 'acc-a', 'acc-b', 300),
    ]);
    await Promise.all(sagas.map((saga) => h.result(saga.sagaId)));
    expect(await h.db.eventStore.personalData?.erase(customerSubject('c-shred'))).toBe(true);
    // The erased customer comes back: the new order is sealed under a generation-2 key.
    const back = await h.placeOrder({
      orderId: 'back-1',
      customerId: 'c-shred',
      paymentAccountId: 'acc-a',
      items: [{ sku: 'sku-1', quantity: 1, unitPrice: 10 }],
    });
    await h.result(back.sagaId);
    await h.db.pool.query(
      `INSERT INTO api_idempotency_keys (scope, key, request_hash, status_code, response, completed_at)
       VALUES ('anonymous POST /accounts', 'key-1', 'hash', 201, '{"accountId":"x"}', now())`,
    );
    await h.db.pool.query(
      `INSERT INTO snapshots (stream_id, stream_type, version, state_schema_version, state)
       VALUES ('account-archived', 'account', 3, 1, '{"status":"open","balance":12}')`,
    );
  });

  afterAll(async () => {
    await h.stop();
    const admin = new Client({ connectionString: server() });
    await admin.connect();
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  });

  it('restores a store into an empty database with identical events, keys and read models', async () => {
    // The source's read models from the log (inline projection alone can drop events that
    // concurrent sagas deliver out of order; a runner would heal them later).
    for (const projection of ALL_PROJECTIONS) await rebuildProjection(h.db, projection.name);
    const backup = await backupDatabase(h.db.url, file);
    expect(backup.rows.events).toBeGreaterThan(20);
    // c-live, c-shred's erased generation 1 and its live generation 2.
    expect(backup.rows.data_subject_keys).toBe(3);

    const target = await freshDatabase('full');
    const result = await restoreDatabase(target, file);
    expect(result.rows).toEqual(backup.rows);
    expect(result.rebuilt.map((r) => r.projection).sort()).toEqual(
      ALL_PROJECTIONS.map((p) => p.name).sort(),
    );

    const pool = createPool(target);
    try {
      expect(await contents(pool)).toEqual(await contents(h.db.pool));

      // Checkpoints are at the head of the restored log, with no rebuild pending.
      const checkpoints = await pool.query<{
        name: string;
        position: string;
        rebuild_generation: number | null;
      }>('SELECT name, position, rebuild_generation FROM projection_checkpoints ORDER BY name');
      for (const checkpoint of checkpoints.rows) {
        expect(checkpoint).toMatchObject({
          position: result.maxGlobalPosition,
          rebuild_generation: null,
        });
      }

      // Crypto-shredding survives: the erased subject stays erased, the live one decrypts.
      const store = createEventStore(pool);
      const [erased] = await store.readStream('order-broke-1');
      expect(erased?.data).toMatchObject({
        customerId: 'c-shred',
        shippingAddress: { name: ERASED, line1: ERASED },
      });
      const [live] = await store.readStream('order-ok-1');
      expect(live?.data).toMatchObject({
        shippingAddress: { name: 'Ada Lovelace', line1: '1 Analytical St' },
      });
      // The returning customer's order (a new key generation) stays readable.
      const [returned] = await store.readStream('order-back-1');
      expect(returned?.data).toMatchObject({
        customerId: 'c-shred',
        shippingAddress: { name: 'Ada Lovelace', line1: '1 Analytical St' },
      });
      const generations = await pool.query(
        'SELECT generation, key IS NULL AS erased FROM data_subject_keys WHERE subject_id = $1 ORDER BY generation',
        [customerSubject('c-shred')],
      );
      expect(generations.rows).toEqual([
        { generation: 1, erased: true },
        { generation: 2, erased: false },
      ]);
    } finally {
      await pool.end();
    }

    // A restore never merges: the now non-empty target (and the source) are refused.
    await expect(restoreDatabase(target, file)).rejects.toBeInstanceOf(RestoreRefusedError);
    await expect(restoreDatabase(h.db.url, file, { skipRebuild: true })).rejects.toThrow(
      /holds data/,
    );
  });

  it('orders restored history before new appends: readers and projections see events appended after a restore', async () => {
    const target = await freshDatabase('xid');
    const restored = await restoreDatabase(target, file);
    const last = BigInt(restored.maxGlobalPosition ?? '0');
    const pool = createPool(target);
    try {
      // Every restored event carries the bootstrap xid, whatever its source transaction was.
      const xids = await pool.query<{ transaction_id: string; n: string }>(
        'SELECT transaction_id::text, count(*) AS n FROM events GROUP BY 1',
      );
      expect(xids.rows).toEqual([{ transaction_id: '1', n: String(restored.rows.events) }]);

      const store = createEventStore(pool);
      const direct = new DirectCommands(new CommandHandler(store));
      const deposit = await direct.deposit(
        { accountId: 'acc-a', amount: 7, reference: 'after-restore' },
        { commandId: 'after-restore/deposit' },
      );
      await direct.openAccount(
        { accountId: 'acc-new', ownerId: 'o', initialDeposit: 1 },
        { commandId: 'after-restore/open' },
      );
      expect(deposit.lastPosition).toBeGreaterThan(last); // the sequence moved past the restored positions

      // A catch-up reader checkpointed on the last restored event sees exactly the new ones.
      // (Readers hold back rows of transactions at or above the cluster-wide xmin, so
      // another session's open transaction may delay them a moment: poll.)
      let page = await store.readAll({ after: last, limit: 100 });
      for (let tries = 0; page.events.length < 3 && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        page = await store.readAll({ after: last, limit: 100 });
      }
      expect(page.events.map((e) => e.type)).toEqual([
        'FundsDeposited',
        'AccountOpened',
        'FundsDeposited',
      ]);
      expect(page.events.every((e) => e.globalPosition > last)).toBe(true);

      // Projections (checkpointed at the restored head) catch up on them.
      const runner = new ProjectionRunner({ pool, eventStore: store, pollIntervalMs: 50 });
      await runner.start();
      try {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const balances = await pool.query<{ account_id: string; balance: string }>(
            "SELECT account_id, balance::text FROM account_balance WHERE account_id IN ('acc-a', 'acc-new') ORDER BY 1",
          );
          const before = await h.db.pool.query<{ balance: string }>(
            "SELECT balance::text FROM account_balance WHERE account_id = 'acc-a'",
          );
          const expected = [
            { account_id: 'acc-a', balance: String(Number(before.rows[0]?.balance) + 7) },
            { account_id: 'acc-new', balance: '1' },
          ];
          if (JSON.stringify(balances.rows) === JSON.stringify(expected)) break;
          if (Date.now() > deadline)
            throw new Error(`projections did not catch up: ${JSON.stringify(balances.rows)}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await runner.stop();
      }
    } finally {
      await pool.end();
    }
  });

  it('keeps projection dead letters: the restore rebuild skips them again, new skips get fresh ids', async () => {
    const source = await createTestDatabase('backup_dead_letters');
    try {
      // A malformed deposit (balanceAfter is no number) breaks account_balance. Written past
      // the schema check (genericEventStore), as an older release could have stored it.
      await source.genericEventStore.append(
        'account-poison',
        [
          {
            eventId: crypto.randomUUID(),
            type: 'AccountOpened',
            data: { accountId: 'poison', ownerId: 'o', initialBalance: 0 },
          },
          {
            eventId: crypto.randomUUID(),
            type: 'FundsDeposited',
            data: { accountId: 'poison', amount: 1, balanceAfter: 'not a number' },
          },
        ],
        { expectedVersion: 'no_stream' },
      );
      const [, poison] = await source.eventStore.readStream('account-poison');
      const fast = { maxAttempts: 1, retryBaseMs: 1 };
      await expect(rebuildProjection(source, 'account_balance', undefined, fast)).rejects.toThrow();
      const deadLetter = await skipStuckEvent(source, 'account_balance', {
        position: poison!.globalPosition,
        reason: 'malformed deposit',
        skippedBy: 'test',
      });
      await rebuildProjection(source, 'account_balance', undefined, fast);

      const deadFile = path.join(dir, 'dead-letters.jsonl.gz');
      const backup = await backupDatabase(source.url, deadFile);
      expect(backup.rows.projection_dead_letters).toBe(1);

      const target = await freshDatabase('dead');
      // Without the dead letter the rebuild would be stuck on the poison event again.
      const restored = await restoreDatabase(target, deadFile);
      expect(restored.rows.projection_dead_letters).toBe(1);
      const pool = createPool(target);
      try {
        const again = await pool.query<{ id: string; event_id: string }>(
          'SELECT id::text, event_id FROM projection_dead_letters',
        );
        expect(again.rows).toEqual([{ id: deadLetter.id, event_id: deadLetter.eventId }]);
        expect(
          (await pool.query("SELECT 1 FROM account_balance WHERE account_id = 'poison'")).rowCount,
        ).toBe(1);
        // The id sequence moved past the restored ids: the next skip does not collide.
        const next = await pool.query<{ id: string }>(
          `INSERT INTO projection_dead_letters
                  (projection, event_id, event_position, event_type, error, reason, skipped_by)
           VALUES ('order_summary', $1, 1, 'X', 'e', 'r', 'test') RETURNING id::text`,
          [crypto.randomUUID()],
        );
        expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(deadLetter.id));
      } finally {
        await pool.end();
      }
    } finally {
      await source.drop();
    }
  });

  it('refuses a truncated backup and leaves the target empty', async () => {
    const truncated = path.join(dir, 'truncated.jsonl.gz');
    const gzip = createGzip();
    const out = createWriteStream(truncated);
    gzip.pipe(out);
    for await (const line of readBackupLines(file)) {
      if (line.startsWith('#{"end":"data_subject_keys"')) break; // cut mid-file
      gzip.write(`${line}\n`);
    }
    gzip.end();
    await once(out, 'close');

    const target = await freshDatabase('trunc');
    await expect(restoreDatabase(target, truncated)).rejects.toThrow(/truncated|corrupt/);
    const pool = createPool(target);
    try {
      expect((await pool.query('SELECT count(*)::int AS n FROM events')).rows[0]).toEqual({ n: 0 });
    } finally {
      await pool.end();
    }
    // Nothing was committed, so the same (migrated, empty) target still takes a good backup.
    const result = await restoreDatabase(target, file, { skipRebuild: true });
    expect(result.rows.events).toBeGreaterThan(20);
  });
});
