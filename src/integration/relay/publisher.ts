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

/**
 * Publishes messages with `Nats-Msg-Id` = message id, up to `window` awaiting their PubAck at
 * once, and resolves when every one is acknowledged (rejects at the first failure, once the
 * ones in flight settled). Per-aggregate order holds even when a publish fails: a message
 * waits for the PubAck of the previous message with its ordering key before it is sent, so
 * a failed one is never overtaken by a later one of the same aggregate (the caller retries
 * from its checkpoint, and the stream drops what it already stored as duplicates).
 */
export async function publishInOrder(
  js: JetStreamClient,
  messages: readonly OutgoingMessage[],
  options: PublishOptions,
): Promise<PublishResult> {
  const inFlight = new Set<Promise<void>>();
  const lastOfKey = new Map<string, Promise<void>>();
  const result: PublishResult = { acked: 0, duplicates: 0 };
  let failure: { error: unknown } | undefined;
  for (const item of messages) {
    if (failure) break;
    while (inFlight.size >= options.window) await Promise.race(inFlight);
    if (failure) break;
    const before = lastOfKey.get(item.orderingKey);
    const publish = (async () => {
      if (before) await before;
      const ack = await js.publish(item.subject, item.payload, {
        msgID: item.message.id,
        headers: headersOf(item.message),
        timeout: options.ackTimeoutMs,
      });
      result.acked++;
      if (ack.duplicate) result.duplicates++;
    })();
    const tracked = publish.then(
      () => {
        inFlight.delete(tracked);
        if (lastOfKey.get(item.orderingKey) === publish) lastOfKey.delete(item.orderingKey);
      },
      (error: unknown) => {
        inFlight.delete(tracked);
        failure ??= { error };
      },
    );
    inFlight.add(tracked);
    lastOfKey.set(item.orderingKey, publish);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return result;
}

export function headersOf(message: IntegrationMessage) {
  const h = natsHeaders();
  h.set('Content-Type', CLOUDEVENTS_CONTENT_TYPE);
  h.set('Ce-Type', message.type);
  if (message.traceparent) h.set('traceparent', message.traceparent);
  return h;
}
