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
import { DEFAULT_RELAY, readRelayCheckpoint } from '../src/integration/relay/checkpoint';
import { IntegrationRelay, messagesOf } from '../src/integration/relay/relay';
import { headersOf, type OutgoingMessage } from '../src/integration/relay/publisher';
import { TRANSLATED_EVENT_TYPES, Translator } from '../src/integration/translation';
import { processCpuSeconds, settle } from './support/cpuAccounting';
import { appendToEffect, publishToInboxRow } from './support/loyaltyLatency';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const WINDOW = 256;
const BATCH = 1000;
const ACK_TIMEOUT_MS = 10_000;
const ROUNDS = 3;

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
 * same Nats-Msg-Id and headers, WINDOW of them awaiting their PubAck at once (a counter and
 * one waiter, as the relay's publisher keeps its window). No reading, translating, ordering
 * or checkpointing.
 */
async function bareLoop(js: JetStreamClient, messages: readonly OutgoingMessage[]): Promise<void> {
  let inFlight = 0;
  let room: (() => void) | undefined;
  let failure: Error | undefined;
  const settled = () => {
    inFlight--;
    const wake = room;
    room = undefined;
    wake?.();
  };
  for (const item of messages) {
    while (inFlight >= WINDOW) await new Promise<void>((resolve) => (room = resolve));
    if (failure) throw failure;
    inFlight++;
    js.publish(item.subject, item.payload, {
      msgID: item.message.id,
      headers: headersOf(item.message),
      timeout: ACK_TIMEOUT_MS,
    }).then(
      (ack) => {
        if (ack.duplicate) failure ??= new Error('bare loop: duplicate');
        settled();
      },
      (error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error));
        settled();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (room = resolve));
  if (failure) throw failure;
}

async function freshStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(SAGAFLOW_STREAM).catch(() => undefined);
  await ensureStreams(jsm);
}

async function streamCount(nc: NatsConnection): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(SAGAFLOW_STREAM)).state.messages;
}

/** One relay, with a checkpoint row of its own (from position 0), run until it reaches `head`. */
async function relayRun(
  pool: Pool,
  store: EventStore,
  nc: NatsConnection,
  head: bigint,
  name: string,
) {
  const relay = new IntegrationRelay({
    pool,
    eventStore: store,
    nats: nc,
    name,
    batchSize: BATCH,
    window: WINDOW,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    pollIntervalMs: 1000,
  });
  const started = performance.now();
  await relay.start();
  try {
    while ((await readRelayCheckpoint(pool, name).catch(() => undefined))?.position !== head) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return (performance.now() - started) / 1000;
  } finally {
    await relay.stop();
  }
}

/** Wall seconds and CPU seconds (this process, nats-server, Postgres) of one side's run. */
interface Run {
  seconds: number;
  cpu: { self: number; nats: number; postgres: number };
}

async function measured(run: () => Promise<number>): Promise<Run> {
  const before = processCpuSeconds();
  const seconds = await run();
  const after = processCpuSeconds();
  const used = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  return {
    seconds,
    cpu: { self: used('self'), nats: used('nats-server'), postgres: used('postgres') },
  };
}

const total = (runs: readonly Run[], pick: (run: Run) => number) =>
  runs.reduce((sum, run) => sum + pick(run), 0);

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

      // Rounds alternate which side goes first (a fresh stream each), so neither always
      // meets a cold server or a warm one; the ratio is of the summed times.
      const bare: Run[] = [];
      const ours: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const sides = round % 2 === 0 ? (['bare', 'relay'] as const) : (['relay', 'bare'] as const);
        for (const side of sides) {
          await freshStream(nc);
          await settle(2_000);
          if (side === 'bare') {
            bare.push(await measured(() => timed(() => bareLoop(jetstream(nc), messages))));
          } else {
            ours.push(await measured(() => relayRun(pool, store, nc, head, `bench-${round}`)));
          }
          const stored = await streamCount(nc);
          if (stored !== messages.length) {
            const duplicates =
              side === 'relay'
                ? (await readRelayCheckpoint(pool, `bench-${round}`)).duplicatesTotal
                : 'n/a';
            throw new Error(
              `${side}: ${stored} messages in the stream, ${messages.length} published ` +
                `(PubAcks saying duplicate: ${duplicates})`,
            );
          }
        }
        context.log(
          `round ${round + 1}: relay ${ours[round]!.seconds.toFixed(2)} s, bare ${bare[round]!.seconds.toFixed(2)} s ` +
            `(${(bare[round]!.seconds / ours[round]!.seconds).toFixed(2)})`,
        );
      }
      const perMessage = (runs: readonly Run[], pick: (run: Run) => number) =>
        (total(runs, pick) * 1e6) / (runs.length * messages.length);
      const cpu = (runs: readonly Run[]) => ({
        self: perMessage(runs, (r) => r.cpu.self),
        nats: perMessage(runs, (r) => r.cpu.nats),
        postgres: perMessage(runs, (r) => r.cpu.postgres),
      });
      const oursRate = (ROUNDS * messages.length) / total(ours, (r) => r.seconds);
      const bareRate = (ROUNDS * messages.length) / total(bare, (r) => r.seconds);
      const oursCpu = cpu(ours);
      const bareCpu = cpu(bare);
      context.log(
        `relay ${Math.round(oursRate)} msg/s, bare ${Math.round(bareRate)} msg/s; CPU µs a message ` +
          `(this process / nats-server / postgres): relay ${fmt(oursCpu)}, bare ${fmt(bareCpu)}`,
      );

      const latencyOrders = context.scaled(200, 20);
      context.log(`end-to-end latency, ${latencyOrders} orders one at a time`);
      await freshStream(nc);
      await pool.query('UPDATE integration_relay_checkpoints SET position = $1 WHERE name = $2', [
        head.toString(),
        DEFAULT_RELAY,
      ]);
      const latency = await appendToEffect({ url, pool, store, nc, orders: latencyOrders });
      const bareLatency = await publishToInboxRow({ url, nc, orders: latencyOrders });
      context.log(
        `append -> receipt p50 ${latency.receipt.p50Ms.toFixed(1)} ms, p99 ${latency.receipt.p99Ms.toFixed(1)} ms; ` +
          `append -> loyalty effect p50 ${latency.effect.p50Ms.toFixed(1)} ms, p99 ${latency.effect.p99Ms.toFixed(1)} ms; ` +
          `bare publish -> inbox row p50 ${bareLatency.p50Ms.toFixed(1)} ms, p99 ${bareLatency.p99Ms.toFixed(1)} ms`,
      );
      return {
        relay_publish_vs_bare: compare({ rate: oursRate }, { rate: bareRate }, 'messages/s', {
          goal: 0.8,
          events,
          messages: messages.length,
          rounds: ROUNDS,
          window: WINDOW,
          batchSize: BATCH,
          relayCpuUsPerMessage: oursCpu,
          bareCpuUsPerMessage: bareCpu,
        }),
        // One at a time, so a rate is 1000 / p50: the ratio is baseline p50 ÷ ours.
        append_to_loyalty_effect: compare(
          {
            rate: 1000 / latency.effect.p50Ms,
            p50Ms: latency.effect.p50Ms,
            p99Ms: latency.effect.p99Ms,
          },
          { rate: 1000 / bareLatency.p50Ms, p50Ms: bareLatency.p50Ms, p99Ms: bareLatency.p99Ms },
          'effects/s, one at a time (1000 / p50)',
          {
            orders: latencyOrders,
            baselineIs: 'bare JetStream publish -> bare durable consumer committing an inbox row',
            appendToReceiptP50Ms: latency.receipt.p50Ms,
            appendToReceiptP99Ms: latency.receipt.p99Ms,
          },
        ),
      };
    } finally {
      await nc.close();
      await server.stop();
      fs.rmSync(storeDir, { recursive: true, force: true });
      await pool.end();
    }
  },
};

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

const fmt = (cpu: { self: number; nats: number; postgres: number }) =>
  `${cpu.self.toFixed(0)} / ${cpu.nats.toFixed(0)} / ${cpu.postgres.toFixed(0)}`;
