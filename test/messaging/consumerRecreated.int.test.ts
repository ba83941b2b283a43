import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import {
  buildMessage,
  encodeMessage,
  SAGAFLOW_STREAM,
  subjectFilterFor,
  subjectFor,
} from '../../src/integration';
import { runDurableConsumer, type RunningConsumer } from '../../src/messaging/durableConsumer';
import { startTestNatsServer, type TestNats } from '../support/nats';

const log = pino({ level: 'silent' });
const CONSUMER = 'recreated';

/**
 * A durable consumer that disappears under a running service (a server that came back with
 * an empty store, an operator's delete) is created again by the service, which goes on
 * consuming: from the start of the stream, so the inbox sees the old messages again.
 */
describe('a durable consumer deleted under a running service', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let consumer: RunningConsumer | undefined;
  const seen: string[] = [];

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await nats.connect();
  });
  afterAll(async () => {
    await consumer?.stop().catch(() => undefined);
    await nats?.stop();
  });

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
  async function waitUntilSeen(orderIds: string[], timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!orderIds.every((id) => seen.includes(id))) {
      if (Date.now() > deadline)
        throw new Error(`not consumed: ${orderIds.filter((id) => !seen.includes(id)).join(', ')}`);
      await sleep(100);
    }
  }

  it('is created again and consumes what comes next', async () => {
    consumer = await runDurableConsumer(
      nc,
      {
        name: CONSUMER,
        stream: SAGAFLOW_STREAM,
        filterSubjects: [subjectFilterFor('order.completed.v1')],
        ackWaitMs: 1_000,
        maxDeliver: 5,
        retryDelayMs: 100,
      },
      async (message) => {
        seen.push((message.data as { orderId: string }).orderId);
      },
      { log },
    );
    await publishCompleted('before');
    await waitUntilSeen(['before']);
    await (await jetstreamManager(nc)).consumers.delete(SAGAFLOW_STREAM, CONSUMER);
    await publishCompleted('after');
    // Promptly (the consume iterator alone never noticed: nothing came in 60 s).
    await waitUntilSeen(['after'], 10_000);
    // Created again from the start of the stream: the earlier message comes back (the inbox's job).
    expect(seen.filter((id) => id === 'before').length).toBe(2);
    const info = await (await jetstreamManager(nc)).consumers.info(SAGAFLOW_STREAM, CONSUMER);
    expect(info.config.filter_subjects).toEqual([subjectFilterFor('order.completed.v1')]);
  });
});
