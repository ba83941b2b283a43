import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { deterministicId } from '../../src/eventstore/eventIds';
import { DELIVERY_CONSUMER, startDeliveryConsumer } from '../../src/inbound/deliveryConsumer';
import {
  CARRIER_STREAM,
  encodeMessage,
  messageIdFor,
  SAGAFLOW_STREAM,
  subjectFor,
} from '../../src/integration';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { getRelayStatus } from '../../src/integration/relay/status';
import type { RunningConsumer } from '../../src/messaging/durableConsumer';
import { deliveredMessage } from '../../src/services/carrierSimulator/simulator';
import { LOYALTY_CONSUMER } from '../../src/services/loyalty/consumer';
import { pointsFor } from '../../src/services/loyalty/points';
import {
  startLoyaltyService,
  type RunningLoyaltyService,
} from '../../src/services/loyalty/service';
import { startTestNatsServer, type TestNats } from '../support/nats';
import { appendCompletedOrder } from '../support/orderEvents';
import { connectTestTemporal } from '../support/temporal';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
/** appendCompletedOrder's order total. */
const ORDER_TOTAL = 250;

/**
 * NATS goes away twice (SIGTERM, then SIGKILL) and comes back on the same port and store
 * while orders are appended, the relay publishes them, the loyalty service earns points and
 * the delivery consumer records carrier confirmations. Afterwards every expected message is
 * in JetStream once by message id, the consumers' effects match the event store exactly,
 * and nothing is left pending or unacked.
 */
describe('a NATS restart mid-run', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let temporal: TestWorkflowEnvironment;
  let relay: IntegrationRelay;
  let loyalty: RunningLoyaltyService;
  let delivery: RunningConsumer;
  let observer: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase('nats_restart');
    nats = await startTestNatsServer();
    temporal = await connectTestTemporal();
    observer = await nats.connect('observer');
  });
  afterAll(async () => {
    await delivery?.stop().catch(() => undefined);
    await loyalty?.stop().catch(() => undefined);
    await relay?.stop().catch(() => undefined);
    await nats?.stop();
    await temporal?.teardown();
    await db?.drop();
  });

  it('loses nothing, duplicates nothing, leaves nothing unacked', async () => {
    relay = new IntegrationRelay({
      pool: db.pool,
      eventStore: db.eventStore,
      nats: await nats.connect('relay'),
      pollIntervalMs: 100,
      batchSize: 20,
      ackTimeoutMs: 1000,
      retryMaxMs: 300,
    });
    await relay.start();
    loyalty = await startLoyaltyService({
      config: {
        databaseUrl: db.url,
        natsUrl: nats.url,
        port: 0,
        host: '127.0.0.1',
        maxDeliver: 20,
        ackWaitMs: 2_000,
        retryDelayMs: 100,
        logLevel: 'silent',
      },
      nc: await nats.connect('loyalty'),
      log,
    });
    delivery = await startDeliveryConsumer({
      nc: await nats.connect('delivery'),
      pool: db.pool,
      client: temporal.client,
      log,
      spec: { ackWaitMs: 2_000, retryDelayMs: 100, maxDeliver: 20 },
    });

    const orders: string[] = [];
    const confirmations: string[] = [];
    const carrier = await nats.connect('carrier');
    let running = true;
    const appender = (async () => {
      while (running) {
        const id = `r${orders.length}`;
        await appendCompletedOrder(db.eventStore, id);
        orders.push(id);
        await sleep(5);
      }
    })();
    // The carrier confirms deliveries of orders Sagaflow has no saga for (recorded, not
    // signalled); like a real publisher it retries a publish until its PubAck arrives.
    const publisher = (async () => {
      while (running) {
        const shipmentId = `ship-${confirmations.length}`;
        const message = deliveredMessage(
          { shipmentId, orderId: `unknown-${shipmentId}`, dispatchedAt: new Date().toISOString() },
          new Date(),
        );
        for (;;) {
          try {
            await jetstream(carrier).publish(
              subjectFor('shipment.delivered.v1', shipmentId),
              encodeMessage(message),
              { msgID: message.id, timeout: 1000 },
            );
            break;
          } catch {
            await sleep(100);
          }
        }
        confirmations.push(message.id);
        await sleep(10);
      }
    })();

    await sleep(1500);
    await nats.halt(); // SIGTERM: a clean shutdown
    await sleep(1500);
    await nats.restart();
    await sleep(1500);
    await nats.kill(); // SIGKILL: a crash
    await sleep(1500);
    await nats.restart();
    await sleep(1500);
    running = false;
    await Promise.all([appender, publisher]);

    await waitFor(
      'the relay catches up',
      async () => (await getRelayStatus(db.pool)).lagEvents === 0,
    );
    // Promptly: while each ack's confirmation was awaited before the next message, the acks
    // lost in a restart stalled a consumer 5 s per buffered message (a minute or more).
    await waitFor(
      'the consumers drain',
      async () =>
        (
          await Promise.all([
            idle(SAGAFLOW_STREAM, LOYALTY_CONSUMER),
            idle(CARRIER_STREAM, DELIVERY_CONSUMER),
          ])
        ).every(Boolean),
      20_000,
    );
    expect(orders.length).toBeGreaterThan(100);
    expect(confirmations.length).toBeGreaterThan(100);

    // JetStream: every contract the store implies, once by message id.
    const stored = await nats.readAll();
    const ids = stored.map((m) => m.msgId);
    expect(ids.length - new Set(ids).size).toBe(0);
    expect(new Set(ids)).toEqual(
      new Set(
        orders.flatMap((id) => [
          messageIdFor(deterministicId('test-order', id, 'placed'), 'order.placed.v1'),
          messageIdFor(deterministicId('test-order', id, 'completed'), 'order.completed.v1'),
        ]),
      ),
    );
    const carrierInfo = await (await jetstreamManager(observer)).streams.info(CARRIER_STREAM);
    expect(carrierInfo.state.messages).toBe(confirmations.length);

    // Loyalty: each customer's points are what its completed order earns, applied once.
    const points = await db.pool.query<{ customer_id: string; points: number }>(
      'SELECT customer_id, points FROM loyalty.customer_points',
    );
    expect(new Map(points.rows.map((r) => [r.customer_id, r.points]))).toEqual(
      new Map(orders.map((id) => [`c-${id}`, pointsFor(ORDER_TOTAL)])),
    );
    expect(await count('loyalty.inbox')).toBe(orders.length);
    // Delivery: one confirmation recorded per carrier message.
    const recorded = await db.pool.query<{ message_id: string; outcome: string }>(
      'SELECT message_id, outcome FROM delivery_confirmations',
    );
    expect(new Set(recorded.rows.map((r) => r.message_id))).toEqual(new Set(confirmations));
    expect(recorded.rows.every((r) => r.outcome === 'no running saga')).toBe(true);
  });

  async function idle(stream: string, consumer: string): Promise<boolean> {
    const info = await (await jetstreamManager(observer)).consumers.info(stream, consumer);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }
  async function count(table: string): Promise<number> {
    const result = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(result.rows[0]!.n);
  }
});

async function waitFor(what: string, done: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}
