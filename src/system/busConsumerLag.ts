import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DELIVERY_CONSUMER } from '../inbound/deliveryConsumer';
import { CARRIER_STREAM, connectNats, SAGAFLOW_STREAM } from '../integration';
import { readConsumerLag, type WatchedConsumer } from '../messaging/consumerLag';
import type { ConsumerLag } from '../observability/metrics';
import { CARRIER_SIMULATOR_CONSUMER } from '../services/carrierSimulator/simulator';
import { LOYALTY_CONSUMER } from '../services/loyalty/consumer';

/** The durable consumers whose lag /metrics shows (those not deployed are left out). */
export const WATCHED_CONSUMERS: readonly WatchedConsumer[] = [
  { stream: SAGAFLOW_STREAM, consumer: LOYALTY_CONSUMER },
  { stream: CARRIER_STREAM, consumer: DELIVERY_CONSUMER },
  { stream: SAGAFLOW_STREAM, consumer: CARRIER_SIMULATOR_CONSUMER },
];

/** A scrape waits this long for NATS, then reports the consumers' series as absent. */
const SCRAPE_TIMEOUT_MS = 2_000;

export interface BusConsumerLagSource {
  read(): Promise<ConsumerLag[]>;
  close(): Promise<void>;
}

/**
 * Reads the watched consumers' lag over a connection of its own, opened at the first scrape
 * (a process that is never scraped never connects), and kept: it reconnects by itself.
 */
export function busConsumerLagSource(natsUrl: string): BusConsumerLagSource {
  let connection: Promise<NatsConnection> | undefined;
  let closed = false;
  const connected = () =>
    (connection ??= connectNats({ url: natsUrl, name: 'sagaflow-metrics' }).then(async (nc) => {
      if (closed) await nc.close(); // closed while it was still connecting
      return nc;
    }));
  return {
    async read() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('NATS did not answer')), SCRAPE_TIMEOUT_MS);
      });
      try {
        const read = (async () =>
          readConsumerLag(await jetstreamManager(await connected()), WATCHED_CONSUMERS))();
        read.catch(() => undefined);
        return await Promise.race([read, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      // Not awaited while NATS is away: connecting never gives up, and shutdown must not wait.
      void connection?.then((nc) => nc.close()).catch(() => undefined);
    },
  };
}
