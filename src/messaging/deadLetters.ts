import {
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import {
  headers as natsHeaders,
  nanos,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';

/**
 * Poison messages. A message a consumer could not apply after `max_deliver` attempts (or
 * that breaks its contract, which no retry fixes) is copied, with the error, into the
 * DEAD_LETTERS stream under `deadletter.<consumer>.dead`, and the original is terminated so
 * the consumer moves on. `npm run dead-letters` lists them and replays one: the original
 * bytes go to `deadletter.<consumer>.replay`, which the same consumer service reads with a
 * second durable consumer (runDurableConsumer's replay side). Replays never touch the
 * source streams: Sagaflow's relay owns those subjects (and orders them per aggregate).
 */
export const DEAD_LETTER_STREAM = 'DEAD_LETTERS';
export const DEAD_LETTER_PREFIX = 'deadletter';

export const deadLetterSubject = (consumer: string) => `${DEAD_LETTER_PREFIX}.${consumer}.dead`;
export const replaySubject = (consumer: string) => `${DEAD_LETTER_PREFIX}.${consumer}.replay`;
/** The durable consumer on DEAD_LETTERS that reads a consumer's replays. */
export const replayConsumerName = (consumer: string) => `${consumer}-replay`;

/** Headers a dead letter carries besides the original message's own. */
export const DEAD_LETTER_HEADERS = {
  error: 'Sagaflow-Dead-Letter-Error',
  subject: 'Sagaflow-Original-Subject',
  stream: 'Sagaflow-Original-Stream',
  sequence: 'Sagaflow-Original-Sequence',
  consumer: 'Sagaflow-Consumer',
  deliveries: 'Sagaflow-Deliveries',
  at: 'Sagaflow-Dead-Lettered-At',
  replayOf: 'Sagaflow-Replay-Of',
} as const;

export async function ensureDeadLetterStream(jsm: JetStreamManager, replicas = 1): Promise<void> {
  const config = {
    name: DEAD_LETTER_STREAM,
    subjects: [`${DEAD_LETTER_PREFIX}.>`],
    description: 'Messages consumers gave up on (with the error), and their replays',
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60_000),
  };
  const existing = await jsm.streams.info(DEAD_LETTER_STREAM).catch(() => undefined);
  if (!existing) await jsm.streams.add({ ...config, num_replicas: replicas });
  else await jsm.streams.update(DEAD_LETTER_STREAM, config);
}

/** The message a dead letter copies: as delivered (JsMsg), or as stored (by sequence). */
export interface DeadLetterSource {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  stream: string;
  sequence: number;
  deliveries: number;
}

export const deliveredSource = (message: JsMsg): DeadLetterSource => ({
  subject: message.subject,
  data: message.data,
  headers: message.headers,
  stream: message.info.stream,
  sequence: message.info.streamSequence,
  deliveries: message.info.deliveryCount,
});

/**
 * Copies a message into the dead-letter stream, with why. Its Nats-Msg-Id names the source
 * message (stream + sequence), so doing it twice (a crash before the original's term, the
 * max-deliveries backstop after the consumer's own dead letter) stores one dead letter
 * within the stream's duplicate window.
 */
export async function deadLetter(
  js: JetStreamClient,
  consumer: string,
  message: DeadLetterSource,
  error: string,
): Promise<void> {
  const h = copyHeaders(message.headers);
  const original = originOf(message);
  h.set(DEAD_LETTER_HEADERS.error, error.slice(0, 2_000).replace(/[\r\n]+/g, ' '));
  h.set(DEAD_LETTER_HEADERS.subject, original.subject);
  h.set(DEAD_LETTER_HEADERS.stream, original.stream);
  h.set(DEAD_LETTER_HEADERS.sequence, String(original.sequence));
  h.set(DEAD_LETTER_HEADERS.consumer, consumer);
  h.set(DEAD_LETTER_HEADERS.deliveries, String(message.deliveries));
  h.set(DEAD_LETTER_HEADERS.at, new Date().toISOString());
  await js.publish(deadLetterSubject(consumer), message.data, {
    headers: h,
    msgID: `dead/${consumer}/${original.stream}/${original.sequence}`,
  });
}

/**
 * A message's own headers, without the server's (`Nats-*`: a copied Nats-Msg-Id or
 * Nats-Expected-Last-Subject-Sequence would make the copy's publish fail or vanish).
 */
function copyHeaders(from: MsgHdrs | undefined, skip: readonly string[] = []): MsgHdrs {
  const h = natsHeaders();
  for (const [key, values] of from ?? []) {
    if (key.toLowerCase().startsWith('nats-') || skip.includes(key)) continue;
    for (const value of values) h.append(key, value);
  }
  return h;
}

/** Where a message came from: a replayed one names the original it replays. */
function originOf(message: DeadLetterSource): {
  subject: string;
  stream: string;
  sequence: number;
} {
  const h = message.headers;
  const replayed = h?.get(DEAD_LETTER_HEADERS.subject);
  if (h && replayed)
    return {
      subject: replayed,
      stream: h.get(DEAD_LETTER_HEADERS.stream),
      sequence: Number(h.get(DEAD_LETTER_HEADERS.sequence)),
    };
  return { subject: message.subject, stream: message.stream, sequence: message.sequence };
}

export interface DeadLetterEntry {
  /** Its sequence in DEAD_LETTERS: what `replay` takes. */
  sequence: number;
  consumer: string;
  error: string;
  originalSubject: string;
  originalStream: string;
  originalSequence: number;
  deliveries: number;
  deadLetteredAt: string;
  /** The CloudEvents id of the message, when it parses. */
  messageId: string | null;
  /** Sequences of the replays published for it. */
  replays: number[];
}

/** Every dead letter (optionally of one consumer), oldest first, with its replays. */
export async function listDeadLetters(
  nc: NatsConnection,
  consumer?: string,
): Promise<DeadLetterEntry[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(DEAD_LETTER_STREAM).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const entries: DeadLetterEntry[] = [];
  const replays: Array<{ of: number; sequence: number }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const stored = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq }).catch(() => null);
    if (!stored) continue;
    const h = stored.header;
    const replayOf = h.get(DEAD_LETTER_HEADERS.replayOf);
    if (replayOf) {
      replays.push({ of: Number(replayOf), sequence: stored.seq });
      continue;
    }
    const owner = h.get(DEAD_LETTER_HEADERS.consumer);
    if (consumer && owner !== consumer) continue;
    entries.push({
      sequence: stored.seq,
      consumer: owner,
      error: h.get(DEAD_LETTER_HEADERS.error),
      originalSubject: h.get(DEAD_LETTER_HEADERS.subject),
      originalStream: h.get(DEAD_LETTER_HEADERS.stream),
      originalSequence: Number(h.get(DEAD_LETTER_HEADERS.sequence)),
      deliveries: Number(h.get(DEAD_LETTER_HEADERS.deliveries)),
      deadLetteredAt: h.get(DEAD_LETTER_HEADERS.at),
      messageId: messageIdOf(stored.data),
      replays: [],
    });
  }
  for (const replay of replays)
    entries.find((e) => e.sequence === replay.of)?.replays.push(replay.sequence);
  return entries;
}

function messageIdOf(data: Uint8Array): string | null {
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : null;
  } catch {
    return null;
  }
}

/**
 * Sends one dead letter back to its consumer (on `deadletter.<consumer>.replay`), with the
 * original bytes and headers. The consumer's inbox still dedupes by message id, so a replay
 * of something that was applied meanwhile changes nothing.
 */
export async function replayDeadLetter(
  nc: NatsConnection,
  sequence: number,
): Promise<{ consumer: string; replaySequence: number }> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams
    .getMessage(DEAD_LETTER_STREAM, { seq: sequence })
    .catch(() => null);
  const consumer = stored?.header.get(DEAD_LETTER_HEADERS.consumer);
  if (!stored || !consumer || stored.header.get(DEAD_LETTER_HEADERS.replayOf))
    throw new Error(`no dead letter at sequence ${sequence} of ${DEAD_LETTER_STREAM}`);
  const h = copyHeaders(stored.header, [DEAD_LETTER_HEADERS.error]);
  h.set(DEAD_LETTER_HEADERS.replayOf, String(sequence));
  const ack = await jetstream(nc).publish(replaySubject(consumer), stored.data, {
    headers: h,
    // One replay per dead letter within the window: an accidental second run is dropped.
    msgID: `replay/${sequence}`,
  });
  return { consumer, replaySequence: ack.seq };
}
