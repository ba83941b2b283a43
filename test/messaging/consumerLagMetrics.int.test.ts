import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { DELIVERY_CONSUMER } from '../../src/inbound/deliveryConsumer';
import {
  buildMessage,
  CARRIER_STREAM,
  encodeMessage,
  SAGAFLOW_STREAM,
  subjectFilterFor,
  subjectFor,
} from '../../src/integration';
import { runDurableConsumer, type RunningConsumer } from '../../src/messaging/durableConsumer';
import { Metrics } from '../../src/observability/metrics';
import { deliveredMessage } from '../../src/services/carrierSimulator/simulator';
import { LOYALTY_CONSUMER } from '../../src/services/loyalty/consumer';
import { busConsumerLagSource, type BusConsumerLagSource } from '../../src/system/busConsumerLag';
import { startTestNatsServer, type TestNats } from '../support/nats';

const log = pino({ level: 'silent' });

/**
 * /metrics shows each durable bus consumer's lag as JetStream keeps it: a backlog nobody
 * consumes (pending), a handler stuck on a message (ack-pending, then redelivered after
 * ack_wait) and dead letters; and they return to 0 once the consumer catches up. Read over
 * the system's own source (what createSystem wires), so its consumer names are checked too.
 */
describe('consumer lag metrics', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let source: BusConsumerLagSource;
  let consumer: RunningConsumer | undefined;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await nats.connect();
    source = busConsumerLagSource(nats.url);
  });
  afterAll(async () => {
    release();
    await consumer?.stop().catch(() => undefined);
    await source?.close();
    await nats?.stop();
  });

  const metrics = () => new Metrics({ defaultMetrics: false, consumerLag: () => source.read() });
  /** `name{consumer="…",stream="…"} value` lines of the consumer metrics, by name and consumer. */
  async function scrape(): Promise<Map<string, number>> {
    const text = await metrics().render();
    const values = new Map<string, number>();
    for (const match of text.matchAll(
      /^sagaflow_(consumer_\w+)\{consumer="([^"]+)",stream="[^"]+"\} (\d+)$/gm,
    ))
      values.set(`${match[1]}/${match[2]}`, Number(match[3]));
    return values;
  }
  async function publishDelivered(shipmentId: string) {
    const message = deliveredMessage(
      { shipmentId, orderId: `o-${shipmentId}`, dispatchedAt: new Date().toISOString() },
      new Date(),
    );
    await jetstream(nc).publish(
      subjectFor('shipment.delivered.v1', shipmentId),
      encodeMessage(message),
      { msgID: message.id },
    );
  }
  async function publishCompleted(orderId: string) {
    const message = buildMessage(
      'order.completed.v1',
      orderId,
      {
        orderId,
        customerId: 'c',
        total: 100,
        currency: 'EUR',
        completedAt: new Date().toISOString(),
      },
      {
        eventId: `completed-${orderId}`,
        streamId: `order-${orderId}`,
        version: 2,
        globalPosition: 1n,
        occurredAt: new Date(),
      },
    );
    await jetstream(nc).publish(subjectFor('order.completed.v1', orderId), encodeMessage(message), {
      msgID: message.id,
    });
  }

  it('reports pending, ack-pending, redelivered and dead letters per consumer', async () => {
    // Loyalty's consumer exists but nobody consumes: a backlog.
    await (
      await jetstreamManager(nc)
    ).consumers.add(SAGAFLOW_STREAM, {
      durable_name: LOYALTY_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      filter_subjects: [subjectFilterFor('order.completed.v1')],
    });
    await publishCompleted('o-1');
    await publishCompleted('o-2');
    // The delivery consumer: a junk message (dead-lettered at once), then one it hangs on.
    await jetstream(nc).publish(
      subjectFor('shipment.delivered.v1', 'ship-junk'),
      new TextEncoder().encode('{}'),
    );
    await publishDelivered('ship-hang');
    await publishDelivered('ship-after');
    consumer = await runDurableConsumer(
      nc,
      {
        name: DELIVERY_CONSUMER,
        stream: CARRIER_STREAM,
        filterSubjects: [subjectFilterFor('shipment.delivered.v1')],
        ackWaitMs: 1_000,
        maxDeliver: 10,
        retryDelayMs: 100,
      },
      async (message) => {
        if (message.subject === 'ship-hang') await released;
      },
      { log },
    );
    // Past ack_wait the stuck message (and the one behind it) are redelivered.
    let values = await scrape();
    for (
      let i = 0;
      i < 50 && !(values.get(`consumer_redelivered_messages/${DELIVERY_CONSUMER}`)! > 0);
      i++
    ) {
      await sleep(100);
      values = await scrape();
    }
    expect(values.get(`consumer_pending_messages/${LOYALTY_CONSUMER}`)).toBe(2);
    expect(values.get(`consumer_ack_pending_messages/${LOYALTY_CONSUMER}`)).toBe(0);
    expect(values.get(`consumer_dead_letters_total/${LOYALTY_CONSUMER}`)).toBe(0);
    expect(values.get(`consumer_pending_messages/${DELIVERY_CONSUMER}`)).toBe(0);
    expect(values.get(`consumer_ack_pending_messages/${DELIVERY_CONSUMER}`)).toBe(2);
    expect(values.get(`consumer_redelivered_messages/${DELIVERY_CONSUMER}`)).toBeGreaterThan(0);
    expect(values.get(`consumer_dead_letters_total/${DELIVERY_CONSUMER}`)).toBe(1);
    // The carrier simulator is not running here: no series for it.
    expect([...values.keys()].some((k) => k.endsWith('/carrier-simulator'))).toBe(false);

    release();
    for (
      let i = 0;
      i < 50 && values.get(`consumer_ack_pending_messages/${DELIVERY_CONSUMER}`) !== 0;
      i++
    ) {
      await sleep(100);
      values = await scrape();
    }
    expect(values.get(`consumer_ack_pending_messages/${DELIVERY_CONSUMER}`)).toBe(0);
    expect(values.get(`consumer_redelivered_messages/${DELIVERY_CONSUMER}`)).toBe(0);
    expect(values.get(`consumer_dead_letters_total/${DELIVERY_CONSUMER}`)).toBe(1);
  });

  it('a scrape while NATS is away leaves the series out instead of failing', async () => {
    await nats.halt();
    try {
      const text = await metrics().render();
      expect(text).not.toMatch(/^sagaflow_consumer_pending_messages\{/m);
    } finally {
      await nats.restart();
    }
  });
});
