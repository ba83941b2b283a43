/**
 * The bus's invariants: what the event store implies reached JetStream exactly once, the
 * loyalty service's points are what the event store implies, and nothing is left unacked.
 * The expectation is computed afresh from the events table, through the same translation
 * layer the relay uses (src/integration), never from what the relay recorded.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import type { PostgresEventStore } from '../../../src/eventstore';
import { SAGAFLOW_STREAM } from '../../../src/integration';
import { messagesOf } from '../../../src/integration/relay/relay';
import { TRANSLATED_EVENT_TYPES, Translator } from '../../../src/integration/translation';
import { DEAD_LETTER_STREAM } from '../../../src/messaging/deadLetters';
import { pointsFor } from '../../../src/services/loyalty/points';
import { busLag } from '../bus';
import { sample, sharedFact, type Invariant } from './types';

/** What the integration checks look at once the bus has settled and every process stopped. */
export interface IntegrationInput {
  pool: Pool;
  store: PostgresEventStore;
  /** The run's nats-server (still running). */
  nats: NatsConnection;
}

type IntegrationInvariant = Invariant<IntegrationInput>;

/** Message ids the event store implies, each with its subject (the relay's translation, redone). */
const expectedMessages = sharedFact(async ({ store }: IntegrationInput) => {
  const translator = new Translator((streamId, toVersion) =>
    store.readStream(streamId, { toVersion, sealedPersonalData: true }),
  );
  const expected = new Map<string, string>();
  for (let after = 0n; ;) {
    const read = await store.readAll({ after, limit: 1000, eventTypes: TRANSLATED_EVENT_TYPES });
    const translations = await translator.translatePage(read.events);
    read.events.forEach((event, i) => {
      for (const out of messagesOf(event, translations[i]!))
        expected.set(out.message.id, out.subject);
    });
    if (read.lastPosition === after) break;
    after = read.lastPosition;
  }
  return expected;
});

interface StreamCopy {
  /** Stored messages per Nats-Msg-Id. */
  count: Map<string, number>;
  subjectOf: Map<string, string>;
  /** Messages whose header and CloudEvents id differ, or that have no header. */
  mislabelled: number;
  total: number;
}

/** Every message of the Sagaflow stream, through an ordered consumer. */
async function readStream(nats: NatsConnection): Promise<StreamCopy> {
  const copy: StreamCopy = { count: new Map(), subjectOf: new Map(), mislabelled: 0, total: 0 };
  const info = await (await jetstreamManager(nats)).streams.info(SAGAFLOW_STREAM);
  if (info.state.messages === 0) return copy;
  const consumer = await jetstream(nats).consumers.get(SAGAFLOW_STREAM);
  const messages = await consumer.consume();
  for await (const m of messages) {
    copy.total += 1;
    const id = m.headers?.get('Nats-Msg-Id') ?? '';
    const body = m.json<{ id?: unknown }>();
    if (!id || body.id !== id) copy.mislabelled += 1;
    copy.count.set(id, (copy.count.get(id) ?? 0) + 1);
    copy.subjectOf.set(id, m.subject);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return copy;
}

const streamCopy = sharedFact(({ nats }: IntegrationInput) => readStream(nats));

export const everyIntegrationEventOnceInJetStream: IntegrationInvariant = {
  name: 'every integration event the event store implies reached JetStream exactly once (by message id)',
  async check(input) {
    const expected = await expectedMessages(input);
    const stored = await streamCopy(input);
    const missing = [...expected.keys()].filter((id) => !stored.count.has(id));
    const duplicated = [...stored.count].filter(([, n]) => n > 1).map(([id, n]) => ({ id, n }));
    const unexpected = [...stored.count.keys()].filter((id) => !expected.has(id));
    const wrongSubject = [...expected].filter(
      ([id, subject]) => stored.subjectOf.has(id) && stored.subjectOf.get(id) !== subject,
    );
    const ok =
      expected.size > 0 &&
      missing.length === 0 &&
      duplicated.length === 0 &&
      unexpected.length === 0 &&
      wrongSubject.length === 0 &&
      stored.mislabelled === 0;
    return {
      ok,
      detail: `${expected.size} expected, ${stored.total} in the stream: ${missing.length} missing, ${duplicated.length} duplicated, ${unexpected.length} unexpected, ${wrongSubject.length} on the wrong subject, ${stored.mislabelled} with a Nats-Msg-Id other than their id${sample([...missing, ...duplicated, ...unexpected, ...wrongSubject])}`,
      figures: {
        'integration messages expected': expected.size,
        'integration messages in JetStream': stored.total,
        'integration messages missing': missing.length,
        'integration messages duplicated': duplicated.length,
        'integration messages unexpected': unexpected.length,
      },
    };
  },
};

/**
 * Points per customer as the loyalty rule gives them from the domain events: each completed
 * order earns pointsFor(total) for its customer, unless its payment was refunded.
 */
async function impliedPoints(pool: Pool): Promise<{ points: Map<string, number>; orders: number }> {
  const rows = await pool.query<{ customer_id: string; total: string }>(
    `SELECT placed.data->>'customerId' AS customer_id, placed.data->>'total' AS total
       FROM events placed
      WHERE placed.event_type = 'OrderPlaced'
        AND EXISTS (SELECT 1 FROM events c WHERE c.stream_id = placed.stream_id AND c.event_type = 'OrderCompleted')
        AND NOT EXISTS (SELECT 1 FROM events r WHERE r.event_type = 'AccountCredited'
                          AND r.data->>'reference' = 'order-' || (placed.data->>'orderId') || '/refund')`,
  );
  const points = new Map<string, number>();
  for (const row of rows.rows)
    points.set(row.customer_id, (points.get(row.customer_id) ?? 0) + pointsFor(Number(row.total)));
  return { points, orders: rows.rows.length };
}

export const loyaltyPointsAreImplied: IntegrationInvariant = {
  name: 'loyalty points of every customer equal what the event store implies',
  async check({ pool }) {
    const implied = await impliedPoints(pool);
    const held = new Map(
      (
        await pool.query<{ customer_id: string; points: number }>(
          'SELECT customer_id, points FROM loyalty.customer_points',
        )
      ).rows.map((r) => [r.customer_id, r.points]),
    );
    const customers = new Set([...implied.points.keys(), ...held.keys()]);
    const wrong = [...customers]
      .map((customer) => ({
        customer,
        implied: implied.points.get(customer) ?? 0,
        loyalty: held.get(customer) ?? 0,
      }))
      .filter((c) => c.implied !== c.loyalty);
    const total = [...implied.points.values()].reduce((a, b) => a + b, 0);
    return {
      ok: implied.orders > 0 && wrong.length === 0,
      detail: `${customers.size} customers, ${implied.orders} orders earning ${total} points: ${wrong.length} customers differ${sample(wrong)}`,
      figures: {
        'orders earning loyalty points': implied.orders,
        'loyalty points implied': total,
        'loyalty points held': [...held.values()].reduce((a, b) => a + b, 0),
        'customers whose points differ': wrong.length,
      },
    };
  },
};

export const nothingUnacked: IntegrationInvariant = {
  name: 'nothing remains unacked on the loyalty consumer, nothing dead-lettered, the relay at the head',
  async check({ pool, nats }) {
    const lag = await busLag(pool, nats);
    const deadLetters = (await (await jetstreamManager(nats)).streams.info(DEAD_LETTER_STREAM))
      .state.messages;
    return {
      ok:
        lag.loyaltyPending === 0 &&
        lag.loyaltyAckPending === 0 &&
        lag.relayEvents === 0 &&
        deadLetters === 0,
      detail: `num_pending ${lag.loyaltyPending}, num_ack_pending ${lag.loyaltyAckPending}, ${deadLetters} dead letters, relay ${lag.relayEvents} events behind (${lag.loyaltyRedelivered} redelivered on the way)`,
      figures: {
        'loyalty num_pending': lag.loyaltyPending,
        'loyalty num_ack_pending': lag.loyaltyAckPending,
        'loyalty messages redelivered': lag.loyaltyRedelivered,
        'dead letters': deadLetters,
        'relay lag (events)': lag.relayEvents,
      },
    };
  },
};

/** In report order. */
export const INTEGRATION_INVARIANTS: readonly IntegrationInvariant[] = [
  everyIntegrationEventOnceInJetStream,
  loyaltyPointsAreImplied,
  nothingUnacked,
];
