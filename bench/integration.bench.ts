import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import { createEventStore } from '../src/application/eventStore';
import { createPool, migrate, type EventStore } from '../src/eventstore';
import { startNatsServer } from '../src/infra/natsServer';
import { connectNats, ensureStreams, SAGAFLOW_STREAM } from '../src/integration';
import { readRelayCheckpoint } from '../src/integration/relay/checkpoint';
import { IntegrationRelay, messagesOf } from '../src/integration/relay/relay';
import { headersOf, type OutgoingMessage } from '../src/integration/relay/publisher';
import { TRANSLATED_EVENT_TYPES, Translator } from '../src/integration/translation';
import { percentile } from './support/stats';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const WINDOW = 256;
const BATCH = 1000;
const ACK_TIMEOUT_MS = 10_000;

/**
 * Orders in one bulk INSERT: every order's OrderPlaced, then every order's OrderCompleted
 * (two contracts per order; the completions need the facts of the placements).
 */
export async function seed(pool: Pool, orders: number): Promise<void> {
  await pool.query(
    `INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata)
     SELECT 'order-o' || a, 'order', v, gen_random_uuid(),
            CASE WHEN v = 1 THEN 'OrderPlaced' ELSE 'OrderCompleted' END, CASE WHEN v = 1 THEN 2 ELSE 1 END,
            CASE WHEN v = 1
                 THEN jsonb_build_object('orderId', 'o' || a, 'customerId', 'c' || (a % 1000),
                        'paymentAccountId', 'acc', 'total', 250, 'placedAt', '2026-01-01T00:00:00.000Z',
                        'items', jsonb_build_array(jsonb_build_object('sku', 'sku-1', 'quantity', 1,
                                                    'unitPrice', 250, 'currency', 'EUR')),
                        'shippingAddress', jsonb_build_object('name', 'n', 'line1', 'l', 'city', 'c',
                                                    'postalCode', 'p', 'country', 'GB'))
                 ELSE jsonb_build_object('orderId', 'o' || a)
            END,
            jsonb_build_object('correlation_id', 'corr-' || a, 'causation_id', 'cmd-' || a || '-' || v)
       FROM generate_series(1, 2) AS v, generate_series(1, $1::int) AS a
      ORDER BY v, a`,
    [orders],
  );
  await pool.query('ANALYZE events');
}

/** The messages the relay will publish, translated up front (outside the bare loop's clock). */
async function allMessages(store: EventStore): Promise<OutgoingMessage[]> {
  const translator = new Translator((streamId, toVersion) =>
    store.readStream(streamId, { toVersion, sealedPersonalData: true }),
  );
  const out: OutgoingMessage[] = [];
  let after = 0n;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000, eventTypes: TRANSLATED_EVENT_TYPES });
    if (page.lastPosition === after) return out;
    for (const event of page.events)
      out.push(...messagesOf(event, await translator.translate(event)));
    after = page.lastPosition;
  }
}

/**
 * The baseline: the same messages to the same stream through the same connection, with the
 * same Nats-Msg-Id and headers, WINDOW of them awaiting their PubAck at once. No reading,
 * translating, ordering or checkpointing.
 */
async function bareLoop(js: JetStreamClient, messages: readonly OutgoingMessage[]): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (const item of messages) {
    while (inFlight.size >= WINDOW) await Promise.race(inFlight);
    const publish = js
      .publish(item.subject, item.payload, {
        msgID: item.message.id,
        headers: headersOf(item.message),
        timeout: ACK_TIMEOUT_MS,
      })
      .then((ack) => {
        inFlight.delete(publish);
        if (ack.duplicate) throw new Error('bare loop: duplicate');
      });
    inFlight.add(publish);
  }
  await Promise.all(inFlight);
}

async function freshStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(SAGAFLOW_STREAM).catch(() => undefined);
  await ensureStreams(jsm);
}

async function streamCount(nc: NatsConnection): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(SAGAFLOW_STREAM)).state.messages;
}

async function relayRun(pool: Pool, store: EventStore, nc: NatsConnection, head: bigint) {
  const relay = new IntegrationRelay({
    pool,
    eventStore: store,
    nats: nc,
    batchSize: BATCH,
    window: WINDOW,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    pollIntervalMs: 1000,
  });
  const started = performance.now();
  await relay.start();
  try {
    while ((await readRelayCheckpoint(pool)).position !== head) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return (performance.now() - started) / 1000;
  } finally {
    await relay.stop();
  }
}

/** Append -> message delivered to a JetStream consumer, one order at a time, relay running. */
async function endToEnd(pool: Pool, store: EventStore, nc: NatsConnection, orders: number) {
  await freshStream(nc);
  const relay = new IntegrationRelay({ pool, eventStore: store, nats: nc, window: WINDOW });
  await relay.start();
  const consumer = await jetstream(nc).consumers.get(SAGAFLOW_STREAM, {
    filter_subjects: ['sagaflow.order.*.placed.v1'],
  });
  const delivered = await consumer.consume();
  const appendedAt = new Map<string, number>();
  const latencies: number[] = [];
  const done = (async () => {
    for await (const m of delivered) {
      const at = appendedAt.get(m.subject.split('.')[2]!);
      if (at !== undefined) latencies.push(performance.now() - at);
      if (latencies.length === orders) break;
    }
  })();
  try {
    for (let i = 0; i < orders; i++) {
      const orderId = `e2e-${i}`;
      appendedAt.set(orderId, performance.now());
      await store.append(
        `order-${orderId}`,
        [
          {
            eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
            type: 'OrderPlaced',
            schemaVersion: 2,
            data: {
              orderId,
              customerId: 'c-1',
              paymentAccountId: 'acc',
              items: [{ sku: 'sku-1', quantity: 1, unitPrice: 250, currency: 'EUR' }],
              total: 250,
              shippingAddress: { name: 'n', line1: 'l', city: 'c', postalCode: 'p', country: 'GB' },
              placedAt: '2026-01-01T00:00:00.000Z',
            },
          },
        ],
        { expectedVersion: 'no_stream' },
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await done;
  } finally {
    await delivered.close();
    await relay.stop();
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export const integrationSuite: BenchSuite = {
  name: 'integration',
  description: 'outbox relay to JetStream vs a bare publish loop (same messages, client, window)',
  async run(context: BenchContext): Promise<BenchEntries> {
    const events = context.scaled(50_000, 1_000);
    const { url } = await context.databases.create('integration');
    await migrate(url);
    const pool = createPool(url, { max: 4, applicationName: 'bench-integration' });
    const store = createEventStore(pool);
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-bench-nats-'));
    const server = await startNatsServer({ executable: process.env.NATS_SERVER_PATH, storeDir });
    const nc = await connectNats({ url: server.url, name: 'bench' });
    try {
      context.log(`seeding ${events} order events`);
      await seed(pool, Math.ceil(events / 2));
      const head = await store.headPosition();
      const messages = await allMessages(store);

      context.log(`bare loop: ${messages.length} messages`);
      await freshStream(nc);
      const started = performance.now();
      await bareLoop(jetstream(nc), messages);
      const bareSeconds = (performance.now() - started) / 1000;
      if ((await streamCount(nc)) !== messages.length) throw new Error('bare loop lost messages');

      context.log('relay');
      await freshStream(nc);
      const oursSeconds = await relayRun(pool, store, nc, head);
      if ((await streamCount(nc)) !== messages.length) throw new Error('relay lost messages');

      context.log('end-to-end latency (append -> consumer), 200 orders');
      const latency = await endToEnd(pool, store, nc, context.scaled(200, 20));

      const ours = messages.length / oursSeconds;
      const bare = messages.length / bareSeconds;
      context.log(
        `relay ${Math.round(ours)} msg/s (${oursSeconds.toFixed(2)} s), bare ${Math.round(bare)} msg/s (${bareSeconds.toFixed(2)} s); ` +
          `append -> consumer p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms`,
      );
      return {
        relay_publish_vs_bare: compare({ rate: ours }, { rate: bare }, 'messages/s', {
          goal: 0.8,
          events,
          messages: messages.length,
          window: WINDOW,
          batchSize: BATCH,
          appendToConsumerP50Ms: latency.p50,
          appendToConsumerP99Ms: latency.p99,
        }),
      };
    } finally {
      await nc.close();
      await server.stop();
      fs.rmSync(storeDir, { recursive: true, force: true });
      await pool.end();
    }
  },
};
