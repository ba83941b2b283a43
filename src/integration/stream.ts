import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { CARRIER_SUBJECT_PREFIX, SAGAFLOW_SUBJECT_PREFIX } from './subjects';

/** The stream of everything Sagaflow publishes (`sagaflow.>`). */
export const SAGAFLOW_STREAM = 'SAGAFLOW_INTEGRATION';
/** The carrier's stream (`carrier.>`): in production the carrier owns it; we create it if missing. */
export const CARRIER_STREAM = 'CARRIER_EVENTS';

export interface StreamSettings {
  /** Server-side `Nats-Msg-Id` dedupe window (NATS_DUPLICATE_WINDOW_MS; default 10 min). */
  duplicateWindowMs: number;
  /** 1 for one server, 3 on a 3-node cluster (NATS_STREAM_REPLICAS). */
  replicas: number;
  /** 0: keep messages forever (NATS_STREAM_MAX_AGE_MS). */
  maxAgeMs: number;
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = {
  duplicateWindowMs: 10 * 60_000,
  replicas: 1,
  maxAgeMs: 0,
};

function streamConfig(
  name: string,
  subjects: string[],
  settings: StreamSettings,
): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects,
    description:
      name === SAGAFLOW_STREAM
        ? 'Sagaflow integration events (CloudEvents, see /asyncapi.json)'
        : 'Carrier events Sagaflow consumes',
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: settings.replicas,
    duplicate_window: nanos(settings.duplicateWindowMs),
    max_age: nanos(settings.maxAgeMs),
    allow_direct: true,
  };
}

export const sagaflowStreamConfig = (settings: StreamSettings = DEFAULT_STREAM_SETTINGS) =>
  streamConfig(SAGAFLOW_STREAM, [`${SAGAFLOW_SUBJECT_PREFIX}.>`], settings);
export const carrierStreamConfig = (settings: StreamSettings = DEFAULT_STREAM_SETTINGS) =>
  streamConfig(CARRIER_STREAM, [`${CARRIER_SUBJECT_PREFIX}.>`], settings);

/**
 * Creates both streams, or updates their settings (idempotent: every process that publishes
 * or consumes may call it at start). The number of replicas of an existing stream is left
 * as it is: changing it is an operator's decision (`nats stream edit`).
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  settings: StreamSettings = DEFAULT_STREAM_SETTINGS,
): Promise<void> {
  for (const config of [sagaflowStreamConfig(settings), carrierStreamConfig(settings)]) {
    const existing = await jsm.streams.info(config.name).catch(() => undefined);
    if (!existing) {
      await jsm.streams.add(config);
      continue;
    }
    const { num_replicas: _replicas, ...update } = config;
    await jsm.streams.update(config.name, update);
  }
}

export interface NatsSettings {
  /** Comma-separated server URLs (a cluster: every node's). */
  url: string;
  /** Connection name, shown by the server's /connz. */
  name: string;
}

/**
 * Connects for good: reconnects forever (a NATS restart or failover is a pause, not an end),
 * with the servers list as given (a cluster's nodes).
 */
export function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  return connect({
    servers: settings.url.split(',').map((server) => server.trim()),
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    // Without it every request (each JetStream publish) builds two Error objects up front for
    // their stack traces, in case it fails: a quarter of the relay's CPU. Failures still carry
    // their message and cause.
    noAsyncTraces: true,
  });
}

/** Connects and makes sure the streams exist (what each process does at start). */
export async function connectAndEnsureStreams(
  settings: NatsSettings,
  streams: StreamSettings = DEFAULT_STREAM_SETTINGS,
): Promise<NatsConnection> {
  const nc = await connectNats(settings);
  try {
    await ensureStreams(await jetstreamManager(nc), streams);
    return nc;
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw error;
  }
}
