import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { CLOUDEVENTS_CONTENT_TYPE, encodeMessage, type IntegrationMessage } from '../envelope';
import { subjectFor } from '../subjects';

/** One message ready for JetStream. */
export interface OutgoingMessage {
  subject: string;
  /** Messages with the same key (one aggregate) are stored in the order given. */
  orderingKey: string;
  message: IntegrationMessage;
  payload: Uint8Array;
}

export function outgoing(message: IntegrationMessage, aggregate: string): OutgoingMessage {
  return {
    subject: subjectFor(message.type, message.subject),
    orderingKey: `${aggregate}.${message.subject}`,
    message,
    payload: encodeMessage(message),
  };
}

export interface PublishOptions {
  /** Publishes awaiting their PubAck at once. */
  window: number;
  /** How long one PubAck may take (ms). */
  ackTimeoutMs: number;
}

export interface PublishResult {
  /** PubAcks received. */
  acked: number;
  /** Of those, messages the stream already had (a re-publish inside the dedupe window). */
  duplicates: number;
}

/** A batch handed to the publisher: `acked` settles once each of its messages has. */
export interface SentBatch {
  acked: Promise<PublishResult>;
}

/** A batch in flight: its counts, and how to settle its `acked`. */
interface Batch extends PublishResult {
  /** Sent and not settled yet. */
  pending: number;
  /** Every message was sent (or sending stopped at a failure). */
  closed: boolean;
  complete: boolean;
  failure?: { error: unknown };
  resolve(result: PublishResult): void;
  reject(error: unknown): void;
}

/**
 * Publishes with `Nats-Msg-Id` = message id, up to `window` messages awaiting their PubAck at
 * once, across batches: the next batch goes out while the last PubAcks of the previous one
 * are on their way, so the window never drains between pages. (The window is a counter and
 * one waiter: a Promise.race over the messages in flight costs `window` reactions a message.)
 *
 * Per-aggregate order holds even when a publish fails: a message waits for the PubAck of the
 * previous message with its ordering key (in this batch or an earlier one) before it is
 * sent, so a failed one is never overtaken by a later one of the same aggregate. After the
 * first failure nothing more is sent: `send` throws it, and every batch not fully
 * acknowledged rejects (the caller retries from its checkpoint, and the stream drops what it
 * already stored as duplicates).
 */
export class OrderedPublisher {
  private inFlight = 0;
  /** Wakes the sender waiting for room in the window. */
  private room: (() => void) | undefined;
  /** Wake when nothing is in flight. */
  private idle: Array<() => void> = [];
  private readonly lastOfKey = new Map<string, Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly options: PublishOptions,
  ) {}

  /**
   * Sends a batch in order (waiting for room in the window as it goes) and returns once every
   * message of it is sent; its `acked` settles when their PubAcks are in.
   */
  async send(messages: readonly OutgoingMessage[]): Promise<SentBatch> {
    let batch!: Batch;
    const acked = new Promise<PublishResult>((resolve, reject) => {
      batch = {
        acked: 0,
        duplicates: 0,
        pending: 0,
        closed: false,
        complete: false,
        resolve,
        reject,
      };
    });
    acked.catch(() => undefined); // the caller sees it when it awaits `acked` (or `send` throws)
    for (const item of messages) {
      while (!this.failure && this.inFlight >= this.options.window) {
        await new Promise<void>((resolve) => (this.room = resolve));
      }
      if (this.failure) break;
      this.publish(item, batch);
    }
    batch.complete = !this.failure;
    batch.closed = true;
    this.settle(batch);
    if (this.failure) {
      await this.settled();
      throw this.failure.error;
    }
    return { acked };
  }

  /** Resolves once nothing is in flight (after a failure: once the rest has settled). */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** One message: sent once the previous one of its aggregate is acknowledged. */
  private publish(item: OutgoingMessage, batch: Batch): void {
    const before = this.lastOfKey.get(item.orderingKey);
    this.inFlight++;
    batch.pending++;
    const publish = (async () => {
      if (before) await before;
      if (this.failure) throw this.failure.error;
      const ack = await this.js.publish(item.subject, item.payload, {
        msgID: item.message.id,
        headers: headersOf(item.message),
        timeout: this.options.ackTimeoutMs,
      });
      batch.acked++;
      if (ack.duplicate) batch.duplicates++;
    })();
    this.lastOfKey.set(item.orderingKey, publish);
    publish.then(
      () => {
        if (this.lastOfKey.get(item.orderingKey) === publish)
          this.lastOfKey.delete(item.orderingKey);
        this.done(batch);
      },
      (error: unknown) => {
        batch.failure ??= { error };
        this.failure ??= { error };
        this.done(batch);
      },
    );
  }

  private done(batch: Batch): void {
    this.inFlight--;
    batch.pending--;
    this.settle(batch);
    const room = this.room;
    this.room = undefined;
    room?.();
    if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Settles a batch's `acked` once it is closed and nothing of it is in flight. */
  private settle(batch: Batch): void {
    if (!batch.closed || batch.pending > 0) return;
    const failure = batch.failure ?? (batch.complete ? undefined : this.failure);
    if (failure) batch.reject(failure.error);
    else batch.resolve({ acked: batch.acked, duplicates: batch.duplicates });
  }
}

export function headersOf(message: IntegrationMessage) {
  const h = natsHeaders();
  h.set('Content-Type', CLOUDEVENTS_CONTENT_TYPE);
  h.set('Ce-Type', message.type);
  if (message.traceparent) h.set('traceparent', message.traceparent);
  return h;
}
