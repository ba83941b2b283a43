import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Pool } from 'pg';
import pino from 'pino';
import type { EventStore } from '../../src/eventstore';
import { SAGAFLOW_STREAM, subjectFilterFor } from '../../src/integration';
import { readRelayCheckpoint } from '../../src/integration/relay/checkpoint';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { startLoyaltyService } from '../../src/services/loyalty/service';
import { summarizeLatencies, type LatencySummary } from './stats';

/**
 * End-to-end latency of integration events, one order at a time on an otherwise idle system:
 * from the append of an order's OrderCompleted to the loyalty service's effect committed (its
 * points row in its own schema), through the relay (woken by the append's notification),
 * JetStream and the loyalty consumer. The baseline sends the same bytes the short way: a bare
 * JetStream publish to a bare durable consumer that commits an inbox row, then acks.
 */

const PAUSE_MS = 10;
const BARE_STREAM = 'BENCH_BARE_LATENCY';
const BARE_SUBJECT = 'bench.bare.latency';

const silent = pino({ level: 'silent' });
const pause = () => new Promise((resolve) => setTimeout(resolve, PAUSE_MS));

/** Waiters keyed by an id: the latency loop awaits one, a callback resolves it with a time. */
class Arrivals {
  private readonly waiting = new Map<string, (at: number) => void>();
  private readonly early = new Map<string, number>();
  arrived(key: string, at = performance.now()): void {
    const resolve = this.waiting.get(key);
    if (resolve) {
      this.waiting.delete(key);
      resolve(at);
    } else this.early.set(key, at);
  }
  next(key: string): Promise<number> {
    const at = this.early.get(key);
    if (at !== undefined) {
      this.early.delete(key);
      return Promise.resolve(at);
    }
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }
}

const orderPlaced = (orderId: string) => ({
  eventId: randomUUID(),
  type: 'OrderPlaced',
  schemaVersion: 2,
  data: {
    orderId,
    customerId: `c-${orderId}`,
    paymentAccountId: 'acc',
    items: [{ sku: 'sku-1', quantity: 1, unitPrice: 250, currency: 'EUR' }],
    total: 250,
    shippingAddress: { name: 'n', line1: 'l', city: 'c', postalCode: 'p', country: 'GB' },
    placedAt: '2026-01-01T00:00:00.000Z',
  },
});

export interface AppendToEffectOptions {
  /** The benchmark database (the loyalty service keeps to its `loyalty` schema there). */
  url: string;
  pool: Pool;
  store: EventStore;
  /** A connection with a fresh, empty stream; the default relay's checkpoint at the head. */
  nc: NatsConnection;
  orders: number;
}

export async function appendToEffect(options: AppendToEffectOptions): Promise<{
  effect: LatencySummary;
  receipt: LatencySummary;
}> {
  const { pool, store, nc, orders } = options;
  const run = randomUUID().slice(0, 8);
  const orderIds = Array.from({ length: orders }, (_, i) => `e2e-${run}-${i}`);
  const relay = new IntegrationRelay({ pool, eventStore: store, nats: nc });
  await relay.start();
  const effects = new Arrivals();
  const receipts = new Arrivals();
  const loyalty = await startLoyaltyService({
    config: {
      databaseUrl: options.url,
      natsUrl: '',
      port: 0,
      host: '127.0.0.1',
      maxDeliver: 5,
      ackWaitMs: 30_000,
      retryDelayMs: 100,
      logLevel: 'silent',
    },
    nc,
    log: silent,
    beforeAck: async (message) => {
      if (message.type === 'order.completed.v1') effects.arrived(message.subject);
    },
  });
  // Receipt: the message reaches a plain consumer of the stream (the figure before effects).
  const receiver = await jetstream(nc).consumers.get(SAGAFLOW_STREAM, {
    filter_subjects: [subjectFilterFor('order.completed.v1')],
  });
  const received = await receiver.consume();
  const receiving = (async () => {
    for await (const m of received) receipts.arrived(m.subject.split('.')[2]!);
  })();
  try {
    // Placed first (not timed): a completion needs its order's facts.
    for (const orderId of orderIds) {
      await store.append(`order-${orderId}`, [orderPlaced(orderId)], {
        expectedVersion: 'no_stream',
      });
    }
    const head = await store.headPosition();
    while ((await readRelayCheckpoint(pool)).position < head) await pause();

    const effectMs: number[] = [];
    const receiptMs: number[] = [];
    for (const orderId of orderIds) {
      const effect = effects.next(orderId);
      const receipt = receipts.next(orderId);
      const started = performance.now();
      await store.append(
        `order-${orderId}`,
        [{ eventId: randomUUID(), type: 'OrderCompleted', data: { orderId } }],
        { expectedVersion: 1 },
      );
      effectMs.push((await effect) - started);
      receiptMs.push((await receipt) - started);
      await pause();
    }
    const rows = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM loyalty.order_points
        WHERE order_id = ANY($1) AND completed_at IS NOT NULL AND points > 0`,
      [orderIds],
    );
    if (Number(rows.rows[0]!.n) !== orders) throw new Error('loyalty: points rows missing');
    return { effect: summarizeLatencies(effectMs), receipt: summarizeLatencies(receiptMs) };
  } finally {
    await received.close();
    await receiving;
    await loyalty.stop();
    await relay.stop();
  }
}

/**
 * The baseline: a bare publish (an order.completed.v1-sized JSON body, Nats-Msg-Id, PubAck
 * awaited) to a stream of its own, read by a bare durable pull consumer that commits an inbox
 * row in a transaction and then acks. Timed from the publish to the commit.
 */
export async function publishToInboxRow(options: {
  url: string;
  nc: NatsConnection;
  orders: number;
}): Promise<LatencySummary> {
  const { nc, orders } = options;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(BARE_STREAM).catch(() => undefined);
  await jsm.streams.add({ name: BARE_STREAM, subjects: [`${BARE_SUBJECT}.>`] });
  await jsm.consumers.add(BARE_STREAM, {
    durable_name: 'bare',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const pool = new Pool({ connectionString: options.url, max: 2 });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS bench_bare_inbox (message_id text PRIMARY KEY, type text NOT NULL)',
  );
  const js = jetstream(nc);
  const committed = new Arrivals();
  const messages = await (
    await js.consumers.get(BARE_STREAM, 'bare')
  ).consume({ max_messages: 32 });
  const consuming = (async () => {
    for await (const m of messages) {
      const body = m.json<{ id: string; type: string }>();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          'INSERT INTO bench_bare_inbox (message_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [body.id, body.type],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      committed.arrived(body.id);
      await m.ackAck();
    }
  })();
  try {
    const latencies: number[] = [];
    for (let i = 0; i < orders; i++) {
      const id = randomUUID();
      const body = JSON.stringify({
        specversion: '1.0',
        id,
        type: 'order.completed.v1',
        subject: `bare-${i}`,
        data: { orderId: `bare-${i}`, customerId: 'c-1', total: 250, currency: 'EUR' },
      });
      const done = committed.next(id);
      const started = performance.now();
      await js.publish(`${BARE_SUBJECT}.${i}`, body, { msgID: id });
      latencies.push((await done) - started);
      await pause();
    }
    return summarizeLatencies(latencies);
  } finally {
    await messages.close();
    await consuming;
    await pool.end();
    await jsm.streams.delete(BARE_STREAM).catch(() => undefined);
  }
}
