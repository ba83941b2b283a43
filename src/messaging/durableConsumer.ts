import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ContractViolationError, decodeMessage, type InboundMessage } from '../integration';
import {
  DEAD_LETTER_STREAM,
  deadLetter,
  ensureDeadLetterStream,
  replaySubject,
} from './deadLetters';

/** One durable JetStream pull consumer of integration messages. */
export interface DurableConsumerSpec {
  /** The durable name; also how its dead letters and replays are named. */
  name: string;
  stream: string;
  filterSubjects: string[];
  /** Unacked this long: the server redelivers (the consumer died or hangs). */
  ackWaitMs: number;
  /** Deliveries before a failing message goes to the dead-letter stream. */
  maxDeliver: number;
  /** Wait before a failed message is tried again. */
  retryDelayMs: number;
}

/**
 * Applies one message. It must be idempotent by `message.id` (applyOnce) and return only
 * once its effect is committed: the message is acked after it returns, never before.
 */
export type MessageHandler = (message: InboundMessage, raw: JsMsg) => Promise<void>;

export interface DurableConsumerOptions {
  log: Logger;
  /** Test hook: runs after the handler committed, before the ack (a crash here is the case). */
  beforeAck?: (message: InboundMessage) => Promise<void>;
}

export interface RunningConsumer {
  /** Stops pulling; the message in hand is finished (and acked) first. */
  stop(): Promise<void>;
}

/**
 * Creates (or updates) the durable consumer and its replay twin (on DEAD_LETTERS, reading
 * what `npm run dead-letters -- replay` sends back), and applies their messages one at a
 * time. Ack after commit; a failure is retried after `retryDelayMs` until `maxDeliver`, then
 * dead-lettered with its error. A message that breaks its contract is dead-lettered at once.
 */
export async function runDurableConsumer(
  nc: NatsConnection,
  spec: DurableConsumerSpec,
  handle: MessageHandler,
  options: DurableConsumerOptions,
): Promise<RunningConsumer> {
  const jsm = await jetstreamManager(nc);
  await ensureDeadLetterStream(jsm);
  const common = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
  };
  const replayName = `${spec.name}-replay`;
  await upsertConsumer(jsm, spec.stream, {
    ...common,
    durable_name: spec.name,
    filter_subjects: spec.filterSubjects,
  });
  await upsertConsumer(jsm, DEAD_LETTER_STREAM, {
    ...common,
    durable_name: replayName,
    filter_subjects: [replaySubject(spec.name)],
  });
  const js = jetstream(nc);
  const loops = await Promise.all([
    pull(js, spec.stream, spec.name, spec, handle, options),
    pull(js, DEAD_LETTER_STREAM, replayName, spec, handle, options),
  ]);
  return {
    async stop() {
      await Promise.all(loops.map((loop) => loop.stop()));
    },
  };
}

type ConsumerConfigInput = Parameters<
  Awaited<ReturnType<typeof jetstreamManager>>['consumers']['add']
>[1] & { durable_name: string };

async function upsertConsumer(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  stream: string,
  config: ConsumerConfigInput,
): Promise<void> {
  const existing = await jsm.consumers.info(stream, config.durable_name).catch(() => undefined);
  if (!existing) {
    await jsm.consumers.add(stream, config);
    return;
  }
  const { durable_name: _name, deliver_policy: _policy, ...update } = config;
  await jsm.consumers.update(stream, config.durable_name, update);
}

async function pull(
  js: JetStreamClient,
  stream: string,
  durable: string,
  spec: DurableConsumerSpec,
  handle: MessageHandler,
  options: DurableConsumerOptions,
): Promise<RunningConsumer> {
  const consumer = await js.consumers.get(stream, durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 32 });
  const done = (async () => {
    for await (const raw of messages) {
      await processOne(js, spec, raw, handle, options);
    }
  })().catch((error: unknown) => {
    options.log.error({ err: error, consumer: durable }, 'consumer loop ended');
  });
  return {
    async stop() {
      await messages.close();
      await done;
    },
  };
}

async function processOne(
  js: JetStreamClient,
  spec: DurableConsumerSpec,
  raw: JsMsg,
  handle: MessageHandler,
  { log, beforeAck }: DurableConsumerOptions,
): Promise<void> {
  const where = { consumer: spec.name, subject: raw.subject, seq: raw.info.streamSequence };
  let message: InboundMessage;
  try {
    message = decodeMessage(raw.data);
  } catch (error) {
    // No retry turns bytes that break the contract into a message: dead-letter them now.
    const reason =
      error instanceof ContractViolationError ? error.message : `undecodable: ${String(error)}`;
    log.error({ ...where, reason }, 'message breaks its contract: dead-lettered');
    await deadLetter(js, spec.name, raw, reason);
    raw.term(reason);
    return;
  }
  try {
    await handle(message, raw);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (raw.info.deliveryCount >= spec.maxDeliver) {
      log.error(
        { ...where, id: message.id, reason },
        'message failed max_deliver times: dead-lettered',
      );
      await deadLetter(js, spec.name, raw, reason);
      raw.term(reason);
    } else {
      log.warn(
        { ...where, id: message.id, reason, attempt: raw.info.deliveryCount },
        'message failed; retried',
      );
      raw.nak(spec.retryDelayMs);
    }
    return;
  }
  await beforeAck?.(message);
  // Committed: acknowledge, and wait for the server to confirm (a lost ack is a redelivery
  // the inbox absorbs, but the log should say so).
  const acked = await raw.ackAck().catch(() => false);
  if (!acked)
    log.warn({ ...where, id: message.id }, 'ack not confirmed; a redelivery will be a duplicate');
}
