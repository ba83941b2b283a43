import type { JetStreamManager } from '@nats-io/jetstream';
import type { ConsumerLag } from '../observability/metrics';
import { DEAD_LETTER_STREAM, deadLetterSubject } from './deadLetters';

/** A durable consumer whose lag /metrics shows. */
export interface WatchedConsumer {
  stream: string;
  consumer: string;
}

/**
 * Each watched durable consumer's state as the server keeps it (so any process can report
 * it, whichever runs the consumer): messages not delivered yet, delivered but unacked,
 * redelivered and still unacked, and its dead letters. A consumer that does not exist (its
 * service is not deployed, the simulator is off) is left out.
 */
export async function readConsumerLag(
  jsm: JetStreamManager,
  watched: readonly WatchedConsumer[],
): Promise<ConsumerLag[]> {
  const deadLetters = await deadLettersByConsumer(jsm);
  const lags: ConsumerLag[] = [];
  for (const { stream, consumer } of watched) {
    const info = await jsm.consumers.info(stream, consumer).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (!info) continue;
    lags.push({
      consumer,
      stream,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
      deadLetters: deadLetters.get(deadLetterSubject(consumer)) ?? 0,
    });
  }
  return lags;
}

/** Dead letters per `deadletter.<consumer>.dead` subject (replays not counted). */
async function deadLettersByConsumer(jsm: JetStreamManager): Promise<Map<string, number>> {
  const info = await jsm.streams
    .info(DEAD_LETTER_STREAM, { subjects_filter: deadLetterSubject('*') })
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  return new Map(Object.entries(info?.state.subjects ?? {}));
}

const isNotFound = (error: unknown) => error instanceof Error && /not found/i.test(error.message);
