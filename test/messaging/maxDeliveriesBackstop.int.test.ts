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
import {
  listDeadLetters,
  replayDeadLetter,
  type DeadLetterEntry,
} from '../../src/messaging/deadLetters';
import { runDurableConsumer, type RunningConsumer } from '../../src/messaging/durableConsumer';
import { maxDeliveriesSubject } from '../../src/messaging/maxDeliveries';
import { startTestNatsServer, type TestNats } from '../support/nats';

const log = pino({ level: 'silent' });
const CONSUMER = 'crashy';
const MAX_DELIVER = 2;

/**
 * A message the consumer's process dies on every time never reaches the consumer's own
 * dead-lettering (that runs after a handler failure, in a live process). After max_deliver
 * the server stops delivering it and publishes a MAX_DELIVERIES advisory; the backstop keeps
 * those in a stream and dead-letters the message by its stream sequence, once, even when it
 * sees the advisory again. The dead letter replays like any other.
 */
describe('the max-deliveries backstop', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  const running: RunningConsumer[] = [];
  const applied: string[] = [];
  /** Whether the handler's "process" dies on the poison order (the defect, until fixed). */
  let crashOnPoison = true;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await nats.connect('observer');
  });
  afterAll(async () => {
    for (const r of running) await r.stop().catch(() => undefined);
    await nats?.stop();
  });

  /** A consumer "process": its own connection, which it loses when it crashes. */
  async function startProcess(): Promise<{ crashed: () => boolean }> {
    const conn = await nats.connect(`crashy-process-${running.length}`);
    let crashed = false;
    const consumer = await runDurableConsumer(
      conn,
      {
        name: CONSUMER,
        stream: SAGAFLOW_STREAM,
        filterSubjects: [subjectFilterFor('order.completed.v1')],
        ackWaitMs: 1_000,
        maxDeliver: MAX_DELIVER,
        retryDelayMs: 100,
      },
      async (message) => {
        const orderId = (message.data as { orderId: string }).orderId;
        if (orderId === 'o-poison' && crashOnPoison) {
          crashed = true;
          await conn.close(); // the process dies here: no ack, no nak, no dead letter
          throw new Error('process died');
        }
        applied.push(orderId);
      },
      { log },
    );
    running.push(consumer);
    return { crashed: () => crashed };
  }

  async function publishCompleted(orderId: string): Promise<number> {
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
    const ack = await jetstream(nc).publish(
      subjectFor('order.completed.v1', orderId),
      encodeMessage(message),
      { msgID: message.id },
    );
    return ack.seq;
  }

  async function deadLetters(): Promise<DeadLetterEntry[]> {
    return listDeadLetters(nc, CONSUMER);
  }

  it('dead-letters a message its consumer crashed on max_deliver times, by stream sequence', async () => {
    const poisonSeq = await publishCompleted('o-poison');
    // Restart the "process" whenever it died, as a supervisor would, until a dead letter shows.
    let process = await startProcess();
    let restarts = 0;
    const deadline = Date.now() + 30_000;
    while ((await deadLetters()).length === 0) {
      if (Date.now() > deadline) throw new Error(`no dead letter after ${restarts} restarts`);
      if (process.crashed()) {
        restarts++;
        process = await startProcess();
      }
      await sleep(100);
    }
    expect(restarts).toBe(MAX_DELIVER);
    const [dead, ...others] = await deadLetters();
    expect(others).toEqual([]);
    expect(dead).toMatchObject({
      consumer: CONSUMER,
      originalStream: SAGAFLOW_STREAM,
      originalSequence: poisonSeq,
      deliveries: MAX_DELIVER,
    });
    expect(dead!.originalSubject).toBe(subjectFor('order.completed.v1', 'o-poison'));
    expect(dead!.error).toMatch(/exceeded max_deliver \(2 deliveries\)/);
    // The consumer moves on, and nothing is left pending or unacked on it.
    await publishCompleted('o-fine');
    await waitFor(async () => applied.length === 1);
    expect(applied).toEqual(['o-fine']);
    // Nothing is left pending or unacked on the source consumer.
    const info = await (await jetstreamManager(nc)).consumers.info(SAGAFLOW_STREAM, CONSUMER);
    expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
  });

  it('the same advisory again (a backstop crash before its ack) stores no second dead letter', async () => {
    const [dead] = await deadLetters();
    const advisory = {
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      id: 'again',
      timestamp: new Date().toISOString(),
      stream: SAGAFLOW_STREAM,
      consumer: CONSUMER,
      stream_seq: dead!.originalSequence,
      deliveries: MAX_DELIVER,
    };
    await jetstream(nc).publish(
      maxDeliveriesSubject(SAGAFLOW_STREAM, CONSUMER),
      new TextEncoder().encode(JSON.stringify(advisory)),
    );
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 50; i++) {
      const backstop = await jsm.consumers.info('MAX_DELIVERIES', `${CONSUMER}-max-deliveries`);
      if (backstop.num_pending === 0 && backstop.num_ack_pending === 0) break;
      await sleep(100);
    }
    expect(await deadLetters()).toHaveLength(1);
  });

  it('a replay of the dead letter applies it once the defect is fixed', async () => {
    crashOnPoison = false;
    const [dead] = await deadLetters();
    await replayDeadLetter(nc, dead!.sequence);
    await waitFor(async () => applied.length === 2);
    expect(applied).toEqual(['o-fine', 'o-poison']);
  });
});

async function waitFor(done: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}
