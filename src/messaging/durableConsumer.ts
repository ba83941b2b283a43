import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ContractViolationError, decodeMessage, type InboundMessage } from '../integration';
import {
  DEAD_LETTER_STREAM,
  deadLetter,
  deliveredSource,
  ensureDeadLetterStream,
  replayConsumerName,
  replaySubject,
} from './deadLetters';
import {
  backstopConsumerName,
  deadLetterExhausted,
  ensureMaxDeliveriesStream,
  MAX_DELIVERIES_STREAM,
  maxDeliveriesSubject,
  parseMaxDeliveriesAdvisory,
} from './maxDeliveries';

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
 * Creates (or updates) the durable consumer, its replay twin (on DEAD_LETTERS, reading what
 * `npm run dead-letters -- replay` sends back) and its backstop (on MAX_DELIVERIES, see
 * maxDeliveries.ts), and applies their messages one at a time. Ack after commit; a failure
 * is retried after `retryDelayMs` until `maxDeliver`, then dead-lettered with its error. A
 * message that breaks its contract is dead-lettered at once; one the process died on
 * `maxDeliver` times is dead-lettered by the backstop.
 */
export async function runDurableConsumer(
  nc: NatsConnection,
  spec: DurableConsumerSpec,
  handle: MessageHandler,
  options: DurableConsumerOptions,
): Promise<RunningConsumer> {
  const jsm = await jetstreamManager(nc);
  await ensureDeadLetterStream(jsm);
  await ensureMaxDeliveriesStream(jsm);
  const js = jetstream(nc);
  const common = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
  };
  const apply = (raw: JsMsg) => processOne(js, spec, raw, handle, options);
  const replayName = replayConsumerName(spec.name);
  const targets: PullTarget[] = [
    {
      stream: spec.stream,
      config: { ...common, durable_name: spec.name, filter_subjects: spec.filterSubjects },
      process: apply,
    },
    {
      stream: DEAD_LETTER_STREAM,
      config: { ...common, durable_name: replayName, filter_subjects: [replaySubject(spec.name)] },
      process: apply,
    },
    {
      stream: MAX_DELIVERIES_STREAM,
      config: {
        ...common,
        durable_name: backstopConsumerName(spec.name),
        filter_subjects: [
          maxDeliveriesSubject(spec.stream, spec.name),
          maxDeliveriesSubject(DEAD_LETTER_STREAM, replayName),
        ],
        // Never given up on: a failure here is NATS being away, retried until it is back.
        max_deliver: -1,
      },
      process: (raw) => processAdvisory(js, jsm, spec, raw, options.log),
    },
  ];
  for (const target of targets) await upsertConsumer(jsm, target.stream, target.config);
  const loops = await Promise.all(targets.map((target) => pull(js, jsm, target, options.log)));
  return {
    async stop() {
      await Promise.all(loops.map((loop) => loop.stop()));
    },
  };
}

/** How long the server may take to confirm an ack. */
const ACK_CONFIRM_TIMEOUT_MS = 5_000;

type ConsumerConfigInput = Parameters<JetStreamManager['consumers']['add']>[1] & {
  durable_name: string;
};

async function upsertConsumer(
  jsm: JetStreamManager,
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

/**
 * What became of one message: acked (and the server's confirmation, still on its way), or
 * undefined (nak'd or terminated).
 */
type Processed = { ackConfirmed: Promise<void> } | undefined;

/** One pull loop: a durable consumer, its config, and what it does with each message. */
interface PullTarget {
  stream: string;
  config: ConsumerConfigInput;
  process: (raw: JsMsg) => Promise<Processed>;
}

/**
 * Pulls and processes messages until stopped. A NATS restart or failover is a pause: the
 * client reconnects and the consume iterator pulls again. A consumer that disappears (a
 * server back with an empty store, an operator's delete) is created again and consumed
 * anew, from the start of its stream: the inbox absorbs what it redelivers.
 */
async function pull(
  js: JetStreamClient,
  jsm: JetStreamManager,
  target: PullTarget,
  log: Logger,
): Promise<RunningConsumer> {
  const durable = target.config.durable_name;
  const consume = async () =>
    (await js.consumers.get(target.stream, durable)).consume({ max_messages: 32 });
  let messages: ConsumerMessages = await consume();
  let stopped = false;
  const confirmations = new Set<Promise<void>>();
  const done = (async () => {
    while (!stopped) {
      let lost = false;
      void closeWhenLost(messages, () => (lost = true));
      for await (const raw of messages) {
        const confirmed = (await target.process(raw))?.ackConfirmed;
        if (!confirmed) continue;
        confirmations.add(confirmed);
        void confirmed.finally(() => confirmations.delete(confirmed));
      }
      if (stopped || !lost) break;
      log.warn({ consumer: durable }, 'durable consumer gone: creating it again');
      messages = await recreate(
        () => upsertConsumer(jsm, target.stream, target.config),
        () => (stopped ? undefined : consume()),
      );
    }
  })().catch((error: unknown) => {
    if (!stopped) log.error({ err: error, consumer: durable }, 'consumer loop ended');
  });
  return {
    async stop() {
      stopped = true;
      await messages.close();
      await done;
      await Promise.all(confirmations);
    },
  };
}

/** Ends the iterator when the server says its consumer is gone (telling `onLost` first). */
async function closeWhenLost(messages: ConsumerMessages, onLost: () => void): Promise<void> {
  for await (const status of messages.status()) {
    if (status.type !== 'consumer_deleted' && status.type !== 'consumer_not_found') continue;
    onLost();
    await messages.close();
    return;
  }
}

/** Creates the consumer again (retrying while NATS is away), then consumes it. */
async function recreate(
  create: () => Promise<void>,
  consume: () => Promise<ConsumerMessages> | undefined,
): Promise<ConsumerMessages> {
  for (let attempt = 0; ; attempt++) {
    try {
      await create();
      const messages = await consume();
      if (!messages) throw new Error('stopped');
      return messages;
    } catch (error) {
      if (error instanceof Error && error.message === 'stopped') throw error;
      await sleep(Math.min(5_000, 100 * 2 ** attempt));
    }
  }
}

async function processOne(
  js: JetStreamClient,
  spec: DurableConsumerSpec,
  raw: JsMsg,
  handle: MessageHandler,
  { log, beforeAck }: DurableConsumerOptions,
): Promise<Processed> {
  const where = { consumer: spec.name, subject: raw.subject, seq: raw.info.streamSequence };
  let message: InboundMessage;
  try {
    message = decodeMessage(raw.data);
  } catch (error) {
    // No retry turns bytes that break the contract into a message: dead-letter them now.
    const reason =
      error instanceof ContractViolationError ? error.message : `undecodable: ${String(error)}`;
    log.error({ ...where, reason }, 'message breaks its contract: dead-lettered');
    await deadLetter(js, spec.name, deliveredSource(raw), reason);
    raw.term(reason);
    return undefined;
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
      await deadLetter(js, spec.name, deliveredSource(raw), reason);
      raw.term(reason);
    } else {
      log.warn(
        { ...where, id: message.id, reason, attempt: raw.info.deliveryCount },
        'message failed; retried',
      );
      raw.nak(spec.retryDelayMs);
    }
    return undefined;
  }
  await beforeAck?.(message);
  // Committed: acknowledge. The server's confirmation is awaited beside the next messages,
  // not before them: after a NATS restart the acks of messages delivered before it may go
  // unanswered, and waiting out each one's timeout in turn stalled the consumer for minutes.
  // A lost ack is a redelivery the inbox absorbs, but the log should say so.
  return acknowledge(raw, () =>
    log.warn({ ...where, id: message.id }, 'ack not confirmed; a redelivery will be a duplicate'),
  );
}

function acknowledge(raw: JsMsg, unconfirmed: () => void): Processed {
  const ackConfirmed = raw
    .ackAck({ timeout: ACK_CONFIRM_TIMEOUT_MS })
    .catch(() => false)
    .then((acked) => {
      if (!acked) unconfirmed();
    });
  return { ackConfirmed };
}

/** The backstop: dead-letters the message a max-deliveries advisory names. */
async function processAdvisory(
  js: JetStreamClient,
  jsm: JetStreamManager,
  spec: DurableConsumerSpec,
  raw: JsMsg,
  log: Logger,
): Promise<Processed> {
  const advisory = parseMaxDeliveriesAdvisory(raw.data);
  if (!advisory) {
    log.error({ consumer: spec.name, subject: raw.subject }, 'not a max-deliveries advisory');
    raw.term();
    return undefined;
  }
  const where = { consumer: spec.name, stream: advisory.stream, seq: advisory.stream_seq };
  try {
    const outcome = await deadLetterExhausted(js, jsm, spec.name, advisory);
    log.error({ ...where, outcome }, 'message exceeded max_deliver without an outcome');
  } catch (error) {
    log.warn({ ...where, err: error }, 'max-deliveries backstop failed; retried');
    raw.nak(spec.retryDelayMs);
    return undefined;
  }
  return acknowledge(raw, () => log.warn(where, 'backstop ack not confirmed; harmless if redone'));
}
