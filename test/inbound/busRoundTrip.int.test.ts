import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { startDeliveryConsumer } from '../../src/inbound/deliveryConsumer';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import type { RunningConsumer } from '../../src/messaging/durableConsumer';
import { startCarrierSimulator } from '../../src/services/carrierSimulator/simulator';
import {
  startLoyaltyService,
  type RunningLoyaltyService,
} from '../../src/services/loyalty/service';
import { SagaHarness } from '../support/sagaHarness';
import { startTestNatsServer, type TestNats } from '../support/nats';

const log = pino({ level: 'silent' });

/**
 * The whole loop over a real bus: the relay publishes the dispatch, the carrier simulator
 * confirms it (twice, every time), the delivery consumer signals the saga, the saga
 * completes once, the relay publishes order.completed.v1 and the loyalty service credits it.
 */
describe('an order across the bus: dispatch → carrier → delivered → completed → loyalty', () => {
  const h = new SagaHarness('bus_round_trip', {
    config: { DELIVERY_CONFIRMATION: 'carrier', DELIVERY_TIMEOUT: '60s' },
  });
  let nats: TestNats;
  let relay: IntegrationRelay;
  let nc: NatsConnection;
  const stops: Array<{ stop(): Promise<unknown> }> = [];
  let loyalty: RunningLoyaltyService;

  beforeAll(async () => {
    await h.start();
    nats = await startTestNatsServer();
    nc = await nats.connect('consumers');
    relay = new IntegrationRelay({
      pool: h.db.pool,
      eventStore: h.db.eventStore,
      nats: await nats.connect('relay'),
      pollIntervalMs: 100,
    });
    await relay.start();
    const delivery: RunningConsumer = await startDeliveryConsumer({
      nc,
      pool: h.db.pool,
      client: h.client,
      log,
    });
    const carrier = await startCarrierSimulator({
      nc,
      log,
      settings: {
        delayMs: { min: 100, max: 200 },
        duplicateRate: 1,
        lateRate: 0,
        lateDelayMs: 0,
        seed: 7,
      },
    });
    loyalty = await startLoyaltyService({
      config: {
        databaseUrl: h.db.url,
        natsUrl: nats.url,
        port: 0,
        host: '127.0.0.1',
        maxDeliver: 3,
        ackWaitMs: 5_000,
        retryDelayMs: 200,
        logLevel: 'silent',
      },
      nc,
      log,
    });
    stops.push(loyalty, carrier, delivery, relay);
  });
  afterAll(async () => {
    for (const s of stops) await s.stop().catch(() => undefined);
    await nats?.stop();
    await h.stop();
  });

  it('completes the order once on the carrier confirmation and credits its points', async () => {
    await h.openAccount('cust-loop', 100_000);
    await h.restock('sku-loop', 10);
    const { sagaId } = await h.placeOrder({
      orderId: 'bus-loop',
      customerId: 'c-loop',
      paymentAccountId: 'cust-loop',
      items: [{ sku: 'sku-loop', quantity: 3, unitPrice: 1_250 }],
    });
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    const events = await h.eventTypes('order-bus-loop');
    expect(events.filter((t) => t === 'OrderCompleted')).toHaveLength(1);
    let points = 0;
    for (let i = 0; i < 100 && points === 0; i++, await sleep(100)) {
      const response = await fetch(`${loyalty.url}/customers/c-loop/points`);
      points = ((await response.json()) as { points: number }).points;
    }
    expect(points).toBe(37); // 37.50 → 37 points
    const confirmations = await h.db.pool.query(
      "SELECT outcome FROM delivery_confirmations WHERE order_id = 'bus-loop'",
    );
    expect(confirmations.rows).toEqual([{ outcome: 'signalled' }]);
  });
});
