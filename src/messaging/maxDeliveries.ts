import {
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { deadLetter } from './deadLetters';

/**
 * The dead-letter backstop. A consumer dead-letters a message itself when the handler fails
 * on its last delivery; but when the process dies on the message every time (a crash, an
 * OOM kill, a hang past ack_wait), nobody is left to do it, and after max_deliver the
 * server silently stops delivering it. The server says so once, on
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`: a core NATS message that
 * a process down at that moment would miss, so the MAX_DELIVERIES stream keeps these
 * advisories, and each consumer service reads its own through a durable consumer
 * (runDurableConsumer) and dead-letters the message they name, fetched by stream sequence.
 */
export const MAX_DELIVERIES_STREAM = 'MAX_DELIVERIES';
const ADVISORY_PREFIX = '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES';

export const maxDeliveriesSubject = (stream: string, consumer: string) =>
  `${ADVISORY_PREFIX}.${stream}.${consumer}`;
/** The durable consumer on MAX_DELIVERIES that reads a consumer's advisories. */
export const backstopConsumerName = (consumer: string) => `${consumer}-max-deliveries`;

export async function ensureMaxDeliveriesStream(
  jsm: JetStreamManager,
  replicas = 1,
): Promise<void> {
  const config = {
    name: MAX_DELIVERIES_STREAM,
    subjects: [`${ADVISORY_PREFIX}.>`],
    description: 'Max-deliveries advisories: messages a consumer gave up on without a dead letter',
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // Only needed until the backstop has dead-lettered the message.
    max_age: nanos(7 * 24 * 3_600_000),
  };
  const existing = await jsm.streams.info(MAX_DELIVERIES_STREAM).catch(() => undefined);
  if (!existing) await jsm.streams.add({ ...config, num_replicas: replicas });
  else await jsm.streams.update(MAX_DELIVERIES_STREAM, config);
}

/** The fields of io.nats.jetstream.advisory.v1.max_deliver the backstop uses. */
export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  try {
    const a = JSON.parse(Buffer.from(data).toString('utf8')) as Partial<MaxDeliveriesAdvisory>;
    const valid =
      typeof a.stream === 'string' &&
      typeof a.consumer === 'string' &&
      Number.isSafeInteger(a.stream_seq) &&
      Number.isSafeInteger(a.deliveries);
    return valid ? (a as MaxDeliveriesAdvisory) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Dead-letters (under `consumer`) the message an advisory names, as the stream stores it.
 * Idempotent: the dead letter's Nats-Msg-Id is the one the consumer itself would have used.
 * 'gone': the stream no longer has it (deleted, or aged out), so there is nothing to keep.
 */
export async function deadLetterExhausted(
  js: JetStreamClient,
  jsm: JetStreamManager,
  consumer: string,
  advisory: MaxDeliveriesAdvisory,
): Promise<'dead-lettered' | 'gone'> {
  const stored = await jsm.streams
    .getMessage(advisory.stream, { seq: advisory.stream_seq })
    .catch((error: unknown) => {
      if (isMessageNotFound(error)) return null;
      throw error;
    });
  if (!stored) return 'gone';
  await deadLetter(
    js,
    consumer,
    {
      subject: stored.subject,
      data: stored.data,
      headers: stored.header,
      stream: advisory.stream,
      sequence: stored.seq,
      deliveries: advisory.deliveries,
    },
    `exceeded max_deliver (${advisory.deliveries} deliveries) on ${advisory.consumer} without an ` +
      'outcome: the consumer crashed or hung on it every time',
  );
  return 'dead-lettered';
}

const isMessageNotFound = (error: unknown) =>
  error instanceof Error && /no message found|message not found/i.test(error.message);
