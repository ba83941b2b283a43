import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import type { EventStore } from '../eventstore';
import { startNatsServer } from '../infra/natsServer';
import type { IntegrationConfig } from './config';
import { IntegrationRelay } from './relay/relay';
import { connectAndEnsureStreams, type StreamSettings } from './stream';

/**
 * How the entry points wire integration events: `startNats` finds (or starts) the server,
 * `startRelay` runs the outbox relay on it. Both return a stop function for the caller's
 * shutdown list.
 */

type Log = (message: string, error?: unknown) => void;

export interface NatsEndpoint {
  /** Client URL(s) as NATS_URL takes them. */
  url: string;
  /** The embedded server's monitoring endpoint; undefined for an external one. */
  monitorUrl: string | undefined;
  /** Stops the embedded server (nothing for an external one). */
  stop(): Promise<void>;
}

/** NATS_URL when set, else a local `nats-server -js` with its store in NATS_EMBEDDED_DIR. */
export async function startNats(config: IntegrationConfig, log: Log): Promise<NatsEndpoint> {
  if (config.NATS_URL) return { url: config.NATS_URL, monitorUrl: undefined, stop: async () => {} };
  log(`starting nats-server -js (store ${config.NATS_EMBEDDED_DIR})`);
  const server = await startNatsServer({
    executable: config.NATS_SERVER_PATH,
    storeDir: config.NATS_EMBEDDED_DIR,
    port: config.NATS_EMBEDDED_PORT,
    monitorPort: config.NATS_EMBEDDED_MONITOR_PORT,
  });
  return { url: server.url, monitorUrl: server.monitorUrl, stop: () => server.stop() };
}

export const streamSettingsOf = (config: IntegrationConfig): StreamSettings => ({
  duplicateWindowMs: config.NATS_DUPLICATE_WINDOW_MS,
  replicas: config.NATS_STREAM_REPLICAS,
  maxAgeMs: 0,
});

export interface RelayDeps {
  config: IntegrationConfig;
  pool: Pool;
  eventStore: EventStore;
  /** From startNats (or NATS_URL). */
  natsUrl: string;
  log: Log;
}

export interface RunningRelay {
  relay: IntegrationRelay;
  nats: NatsConnection;
  stop(): Promise<void>;
}

/**
 * Connects to NATS, makes sure the streams exist, and starts the relay (it publishes once it
 * owns the relay lock; a second process waits to take over).
 */
export async function startRelay(deps: RelayDeps): Promise<RunningRelay> {
  const { config } = deps;
  const nats = await connectAndEnsureStreams(
    { url: deps.natsUrl, name: 'sagaflow-relay' },
    streamSettingsOf(config),
  );
  const relay = new IntegrationRelay({
    pool: deps.pool,
    eventStore: deps.eventStore,
    nats,
    batchSize: config.RELAY_BATCH_SIZE,
    window: config.RELAY_PUBLISH_WINDOW,
    ackTimeoutMs: config.RELAY_ACK_TIMEOUT_MS,
    log: deps.log,
  });
  await relay.start();
  return {
    relay,
    nats,
    async stop() {
      await relay.stop();
      await nats.drain().catch(() => nats.close());
    },
  };
}
