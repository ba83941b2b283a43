import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageIdFor } from '../../src/integration';
import { readRelayCheckpoint } from '../../src/integration/relay/checkpoint';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { getRelayStatus } from '../../src/integration/relay/status';
import { deterministicId } from '../../src/eventstore/eventIds';
import { startTestNatsServer, type TestNats } from '../support/nats';
import { appendCompletedOrder } from '../support/orderEvents';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const root = path.join(__dirname, '..', '..');

/**
 * The relay loses nothing and duplicates nothing in the stream (counted by message id) when it
 * dies between PubAck and checkpoint, when its process is SIGKILLed at random moments, and
 * when NATS restarts under it.
 */
describe('outbox relay through crashes and NATS restarts', () => {
  let db: TestDatabase;
  let nats: TestNats;
  const orders: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('relay_crash');
    nats = await startTestNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
    await db?.drop();
  });

  const appendOrders = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const id = `o${orders.length}`;
      orders.push(id);
      await appendCompletedOrder(db.eventStore, id);
    }
  };

  const relayIn = async (label: string, beforeCheckpoint?: () => Promise<void>) => {
    const relay = new IntegrationRelay({
      pool: db.pool,
      eventStore: db.eventStore,
      nats: await nats.connect(label),
      pollIntervalMs: 100,
      batchSize: 50,
      ackTimeoutMs: 1000,
      retryMaxMs: 300,
      ...(beforeCheckpoint && { beforeCheckpoint }),
    });
    await relay.start();
    return relay;
  };

  async function waitCaughtUp(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await getRelayStatus(db.pool);
      if (status.lagEvents === 0 && status.state === 'running') return;
      if (Date.now() > deadline) throw new Error(`relay lags: ${JSON.stringify(status)}`);
      await sleep(100);
    }
  }

  /** Every order's two contracts reached the stream exactly once, in per-aggregate order. */
  async function expectExactlyOnce() {
    const stored = await nats.readAll();
    const ids = stored.map((m) => m.message.id);
    expect(ids.length - new Set(ids).size).toBe(0); // no duplicate
    const expected = orders.flatMap((id) => [
      messageIdFor(deterministicId('test-order', id, 'placed'), 'order.placed.v1'),
      messageIdFor(deterministicId('test-order', id, 'completed'), 'order.completed.v1'),
    ]);
    expect(new Set(ids)).toEqual(new Set(expected)); // nothing lost, nothing else
    const placedAt = new Map<string, number>();
    for (const m of stored) {
      if (m.message.type === 'order.placed.v1') placedAt.set(m.message.subject, m.seq);
      else expect(placedAt.get(m.message.subject)).toBeLessThan(m.seq);
    }
  }

  it('dies after the PubAcks, before the checkpoint: the next owner re-publishes, the stream drops the repeats', async () => {
    await appendOrders(200);
    let steps = 0;
    let dying: (() => void) | undefined;
    const doomed = await relayIn('doomed', async () => {
      if (++steps !== 3) return;
      // Dead from here on: its lock goes with its connection, it never writes the checkpoint.
      await db.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sagaflow-relay' AND datname = current_database()",
      );
      await new Promise<void>((_, reject) => (dying = () => reject(new Error('stopped'))));
    });
    while (steps < 3) await sleep(20);
    const successor = await relayIn('successor');
    await waitCaughtUp();
    expect((await readRelayCheckpoint(db.pool)).duplicatesTotal).toBeGreaterThan(0n);
    dying?.();
    await doomed.stop();
    await successor.stop();
    await expectExactlyOnce();
  });

  it('survives SIGKILLs of its process and a NATS restart while orders keep coming', async () => {
    let writing = true;
    const writer = (async () => {
      while (writing) await appendOrders(5);
    })();
    const start = () =>
      spawn(
        process.execPath,
        [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'src/integration/relay/main.ts'],
        {
          cwd: root,
          env: {
            ...process.env,
            DATABASE_URL: db.url,
            NATS_URL: nats.url,
            LOG_LEVEL: 'silent',
            RELAY_BATCH_SIZE: '40',
            RELAY_ACK_TIMEOUT_MS: '1000',
          },
          stdio: 'ignore',
        },
      );
    const killed = (child: ChildProcess) =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    let child = start();
    for (let round = 0; round < 3; round++) {
      await sleep(2500 + round * 500);
      await killed(child);
      child = start();
    }
    await sleep(1500);
    await nats.restart(); // the relay's connection reconnects; failed steps retry
    await sleep(1500);
    writing = false;
    await writer;
    await waitCaughtUp(90_000);
    await killed(child);
    const status = await getRelayStatus(db.pool);
    expect(status.lagEvents).toBe(0);
    expect(orders.length).toBeGreaterThan(300);
    await expectExactlyOnce();
  });
});
