import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { startDeliveryConsumer, DELIVERY_CONSUMER } from '../../src/inbound/deliveryConsumer';
import { buildMessage, CARRIER_STREAM, encodeMessage, subjectFor } from '../../src/integration';
import { listDeadLetters } from '../../src/messaging/deadLetters';
import type { RunningConsumer } from '../../src/messaging/durableConsumer';
import {
  deliveredMessage,
  startCarrierSimulator,
  type RunningCarrierSimulator,
} from '../../src/services/carrierSimulator/simulator';
import { SagaHarness } from '../support/sagaHarness';
import { startTestNatsServer, type TestNats } from '../support/nats';

const PRICE = 1_000;
const log = pino({ level: 'silent' });

/**
 * The carrier's shipment.delivered.v1 over a real nats-server completes the order's saga
 * once: published twice, published before the saga waits for it, or redelivered after the
 * consumer died before its ack. The dispatches are published here as the relay would.
 * Confirmations that can never apply are dead-lettered, listed and replayed by the CLI.
 */
describe('inbound delivery confirmations drive the order saga', () => {
  const h = new SagaHarness('delivery_consumer', {
    config: { DELIVERY_CONFIRMATION: 'carrier', DELIVERY_TIMEOUT: '60s' },
  });
  let nats: TestNats;
  let nc: NatsConnection;
  const running: Array<RunningConsumer | RunningCarrierSimulator> = [];

  beforeAll(async () => {
    await h.start();
    nats = await startTestNatsServer();
    nc = await nats.connect();
  });
  afterAll(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    await nats?.stop();
    await h.stop();
  });

  const consumer = async (
    extra: Parameters<typeof startDeliveryConsumer>[0]['beforeAck'] = undefined,
    conn = nc,
    spec: { maxDeliver?: number } = {},
  ) => {
    const c = await startDeliveryConsumer({
      nc: conn,
      pool: h.db.pool,
      client: h.client,
      log,
      spec: { ackWaitMs: 1_500, retryDelayMs: 200, ...spec },
      ...(extra && { beforeAck: extra }),
    });
    running.push(c);
    return c;
  };

  async function dispatchedOrder(orderId: string) {
    await h.openAccount(`cust-${orderId}`, 100_000);
    await h.restock(`sku-${orderId}`, 10);
    const { sagaId } = await h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `cust-${orderId}`,
      items: [{ sku: `sku-${orderId}`, quantity: 1, unitPrice: PRICE }],
    });
    return sagaId;
  }
  /** The saga books the shipment under the order's id (activities: bookShipment). */
  const shipmentOf = (orderId: string) => orderId;
  /** What the relay publishes for a dispatch. */
  async function publishDispatched(orderId: string, shipmentId: string) {
    const message = buildMessage(
      'shipment.dispatched.v1',
      shipmentId,
      { shipmentId, orderId, dispatchedAt: new Date().toISOString() },
      {
        eventId: `dispatch-event-${orderId}`,
        streamId: `shipment-${shipmentId}`,
        version: 2,
        globalPosition: 1n,
        occurredAt: new Date(),
      },
    );
    await jetstream(nc).publish(
      subjectFor('shipment.dispatched.v1', shipmentId),
      encodeMessage(message),
      {
        msgID: message.id,
      },
    );
  }
  const confirmations = async (orderId: string) =>
    (
      await h.db.pool.query<{ outcome: string }>(
        'SELECT outcome FROM delivery_confirmations WHERE order_id = $1',
        [orderId],
      )
    ).rows.map((r) => r.outcome);
  const completions = async (orderId: string) =>
    (await h.eventTypes(`order-${orderId}`)).filter((t) => t === 'OrderCompleted').length;
  const carrierMessages = async () =>
    (await (await jetstreamManager(nc)).streams.info(CARRIER_STREAM)).state.messages;

  it('the carrier simulator confirms a dispatch twice; the saga completes once', async () => {
    await consumer();
    running.push(
      await startCarrierSimulator({
        nc,
        log,
        settings: {
          delayMs: { min: 200, max: 300 },
          duplicateRate: 1,
          lateRate: 0,
          lateDelayMs: 0,
          seed: 1,
        },
      }),
    );
    const sagaId = await dispatchedOrder('inb-twice');
    await h.waitForStatus(sagaId, (s) => s.status === 'DISPATCHED' && s.currentStep === null);
    const before = await carrierMessages();
    await publishDispatched('inb-twice', shipmentOf('inb-twice'));
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    // Both copies reached the stream (the resend has its own Nats-Msg-Id) ...
    for (let i = 0; i < 50 && (await carrierMessages()) < before + 2; i++) await sleep(100);
    expect((await carrierMessages()) - before).toBe(2);
    // ... and the consumer applied one (give the second copy time to be consumed).
    await waitForConsumerIdle();
    expect(await confirmations('inb-twice')).toEqual(['signalled']);
    expect(await completions('inb-twice')).toBe(1);
  });

  it('a confirmation published before the saga waits for it is kept by the saga', async () => {
    const sagaId = await dispatchedOrder('inb-early');
    const shipmentId = shipmentOf('inb-early');
    await publishDelivered('inb-early', shipmentId);
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    expect(await confirmations('inb-early')).toEqual(['signalled']);
    expect(await completions('inb-early')).toBe(1);
  });

  it('a consumer that dies after its commit, before the ack, applies the confirmation once', async () => {
    for (const r of running.splice(0)) await r.stop();
    const doomed = await nats.connect('doomed-delivery-consumer');
    let crashes = 0;
    await consumer(async () => {
      crashes += 1;
      // The process dies here: no ack leaves it.
      await doomed.close();
      throw new Error('crashed before the ack');
    }, doomed);
    const sagaId = await dispatchedOrder('inb-crash');
    await h.waitForStatus(sagaId, (s) => s.status === 'DISPATCHED' && s.currentStep === null);
    await publishDelivered('inb-crash', shipmentOf('inb-crash'));
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    expect(crashes).toBe(1);
    // A new consumer process gets the unacked message again after ack_wait: a duplicate.
    const redelivered: string[] = [];
    await consumer(async (message) => {
      redelivered.push(message.subject);
    });
    for (let i = 0; i < 100 && redelivered.length === 0; i++) await sleep(100);
    expect(redelivered).toEqual(['inb-crash']);
    await waitForConsumerIdle();
    expect(await confirmations('inb-crash')).toEqual(['signalled']);
    expect(await completions('inb-crash')).toBe(1);
  });

  const deadLettersCli = async (...args: string[]) =>
    (
      await promisify(execFile)('npm', ['run', '--silent', 'dead-letters', '--', ...args], {
        env: { ...process.env, NATS_URL: nats.url },
        cwd: path.join(__dirname, '..', '..'),
      })
    ).stdout;

  it('a confirmation that breaks its contract is dead-lettered at once, with the error', async () => {
    for (const r of running.splice(0)) await r.stop();
    await consumer();
    const subject = subjectFor('shipment.delivered.v1', 'ship-junk');
    await jetstream(nc).publish(
      subject,
      new TextEncoder().encode(JSON.stringify({ type: 'shipment.delivered.v1', id: 'junk-1' })),
    );
    await waitForConsumerIdle();
    const [junk, ...others] = await listDeadLetters(nc, DELIVERY_CONSUMER);
    expect(others).toEqual([]);
    expect(junk).toMatchObject({ originalSubject: subject, deliveries: 1, messageId: 'junk-1' });
    expect(junk!.error).toMatch(/breaks its contract/);
    expect(await deadLettersCli('list', DELIVERY_CONSUMER)).toContain(
      `#${junk!.sequence}  ${DELIVERY_CONSUMER}  ${subject}`,
    );
  });

  it('a confirmation that fails max_deliver times is dead-lettered, and `npm run dead-letters -- replay` applies it once fixed', async () => {
    for (const r of running.splice(0)) await r.stop();
    await consumer(undefined, nc, { maxDeliver: 3 });
    // A defect that refuses one order's confirmation (as a bug or a bad row would).
    await h.db.pool.query(`
      CREATE FUNCTION refuse_lost_order() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.order_id = 'inb-lost' THEN RAISE EXCEPTION 'cannot record order inb-lost'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_lost_order BEFORE INSERT ON delivery_confirmations
        FOR EACH ROW EXECUTE FUNCTION refuse_lost_order();`);
    await publishDelivered('inb-lost', 'ship-lost');
    await publishDelivered('inb-next', 'ship-next'); // the consumer moves on past it
    await waitForConsumerIdle();
    expect(await confirmations('inb-next')).toEqual(['no running saga']);
    const letters = await listDeadLetters(nc, DELIVERY_CONSUMER);
    const lost = letters.find(
      (l) => l.originalSubject === subjectFor('shipment.delivered.v1', 'ship-lost'),
    );
    expect(lost).toMatchObject({ originalStream: CARRIER_STREAM, deliveries: 3, replays: [] });
    expect(lost!.error).toContain('cannot record order inb-lost');
    expect(await confirmations('inb-lost')).toEqual([]);

    await h.db.pool.query('DROP TRIGGER refuse_lost_order ON delivery_confirmations');
    expect(await deadLettersCli('replay', String(lost!.sequence))).toContain(
      `dead letter #${lost!.sequence} sent back to ${DELIVERY_CONSUMER}`,
    );
    for (let i = 0; i < 50 && (await confirmations('inb-lost')).length === 0; i++) await sleep(100);
    expect(await confirmations('inb-lost')).toEqual(['no running saga']);
    expect(await deadLettersCli('list', DELIVERY_CONSUMER)).toMatch(
      new RegExp(`#${lost!.sequence} .* replayed as #\\d+`),
    );
  });

  async function publishDelivered(orderId: string, shipmentId: string) {
    const message = deliveredMessage(
      { shipmentId, orderId, dispatchedAt: new Date().toISOString() },
      new Date(),
    );
    await jetstream(nc).publish(
      subjectFor('shipment.delivered.v1', shipmentId),
      encodeMessage(message),
      {
        msgID: message.id,
      },
    );
  }

  async function waitForConsumerIdle() {
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 100; i++) {
      const c = await jsm.consumers.info(CARRIER_STREAM, DELIVERY_CONSUMER);
      if (c.num_pending === 0 && c.num_ack_pending === 0) return;
      await sleep(100);
    }
    throw new Error('delivery consumer did not drain');
  }
});
