import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();
const port = z.coerce.number().int().positive().max(65535);

/** `nats://host:port`, several comma-separated for a cluster's nodes. */
const natsUrls = z
  .string()
  .refine(
    (value) =>
      value.split(',').every((part) => /^(nats|tls|ws|wss):\/\/[^\s,]+$/.test(part.trim())),
    'must be nats://host:port, or several of them separated by commas',
  );

/**
 * The integration-event settings, spread into the typed config (src/config.ts), so every
 * variable is checked at start and listed in the README's table.
 */
export const integrationConfigShape = {
  /** A NATS server or cluster (comma-separated URLs). Unset: `npm start` runs nats-server -js itself. */
  NATS_URL: natsUrls.optional(),
  /** The nats-server binary for the embedded server (else `nats-server` on PATH). */
  NATS_SERVER_PATH: z.string().min(1).optional(),
  /** The embedded server's JetStream store. */
  NATS_EMBEDDED_DIR: z.string().default('.data/nats'),
  NATS_EMBEDDED_PORT: port.default(14222),
  NATS_EMBEDDED_MONITOR_PORT: port.default(18222),
  /** JetStream's Nats-Msg-Id dedupe window: a relay re-publishing within it stores nothing twice. */
  NATS_DUPLICATE_WINDOW_MS: positiveInt.default(10 * 60_000),
  /** Replicas of the streams Sagaflow creates (3 on a 3-node cluster). */
  NATS_STREAM_REPLICAS: positiveInt.max(5).default(1),
  /** `on`: this process runs the outbox relay (one owner at a time across processes). */
  INTEGRATION_RELAY: z.enum(['on', 'off']).default('on'),
  /** Domain events the relay reads per step (one checkpoint write per step). */
  RELAY_BATCH_SIZE: positiveInt.default(1000),
  /** Publishes awaiting their PubAck at once. */
  RELAY_PUBLISH_WINDOW: positiveInt.default(256),
  /** How long the relay waits for one PubAck before it retries the step. */
  RELAY_ACK_TIMEOUT_MS: positiveInt.default(5000),
};

export type IntegrationConfig = z.infer<z.ZodObject<typeof integrationConfigShape>>;
