import { z } from 'zod';
import { DEFAULT_AGGREGATE_CACHE_SIZE } from './application/aggregateCache';
import { integrationConfigShape } from './integration/config';

/**
 * All configuration, read once from the environment. A bad value fails at start
 * with a message that names the variable, never later in the middle of a request.
 */
const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.join(' or ')}//`,
  );

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

/** A Temporal duration string, e.g. 500ms, 90s, 15m, 48h, 7d. */
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 90s, 15m or 48h');

const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration string as milliseconds. */
const durationMs = duration.transform((value) => {
  const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(value) ?? [];
  return Number(amount) * DURATION_UNIT_MS[unit as keyof typeof DURATION_UNIT_MS];
});

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  /** A streaming-replication standby of DATABASE_URL that serves the API's reads (optional). */
  DATABASE_READ_URL: url(['postgres:', 'postgresql:']).optional(),
  /** How often the standby's health and lag are checked (reads go to the primary while it is down). */
  REPLICA_CHECK_INTERVAL_MS: positiveInt.default(5_000),
  /** Where the embedded Postgres keeps its data when DATABASE_URL is not set. */
  EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: positiveInt.max(65535).default(54329),
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('sagaflow'),
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  TEMPORAL_DEV_PORT: positiveInt.max(65535).default(7233),
  TEMPORAL_UI_PORT: positiveInt.max(65535).default(8233),
  /** Base URL of the Temporal Web UI, used to build links to a saga's page. */
  TEMPORAL_UI_URL: url(['http:', 'https:']).optional(),
  PORT: nonNegativeInt.max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PG_POOL_MAX: positiveInt.default(10),
  /** Kills a session that sits idle inside a transaction, which would hold every catch-up reader back. */
  PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt.default(10_000),
  /** Server cancels a statement running longer (a hung one would block its stream's command queue); 0: off. */
  PG_STATEMENT_TIMEOUT_MS: nonNegativeInt.default(15_000),
  /** A statement waiting this long for a lock fails instead of queueing behind a stuck holder; 0: off. */
  PG_LOCK_TIMEOUT_MS: nonNegativeInt.default(5_000),
  /** Client-side backstop when the server does not answer at all (statement timeout + margin); 0: off. */
  PG_QUERY_TIMEOUT_MS: nonNegativeInt.default(20_000),
  /** TCP keepalive idle time, both ends: a half-open connection (and the locks it holds) dies within ~2.5x this. */
  PG_KEEPALIVE_IDLE_MS: positiveInt.min(1000).default(10_000),
  /** Slowest retry of a failing projection (its backoff doubles from 1 s up to this). */
  PROJECTION_RETRY_MAX_MS: positiveInt.default(60_000),
  /** Segments each projection is split into (by stream), shared by the projector processes; the same in every process. */
  PROJECTION_SEGMENTS: positiveInt.max(256).default(1),
  /** Snapshot interval (events) of every aggregate that takes snapshots (accounts, inventory). */
  SNAPSHOT_EVERY: positiveInt.default(100),
  /** Aggregates a process remembers between commands, so a saga's next step skips the load. */
  AGGREGATE_CACHE_SIZE: nonNegativeInt.default(DEFAULT_AGGREGATE_CACHE_SIZE),
  APPROVAL_THRESHOLD: nonNegativeInt.default(100_000),
  APPROVAL_TIMEOUT: z.string().default('24h'),
  MERCHANT_ACCOUNT_ID: z.string().min(1).default('merchant-revenue'),
  /** `carrier`: a dispatched order completes on the carrier's shipment.delivered.v1; `none`: at dispatch. */
  DELIVERY_CONFIRMATION: z.enum(['carrier', 'none']).default('carrier'),
  /** No delivery confirmation this long after dispatch: the order is flagged DELIVERY_OVERDUE. */
  DELIVERY_TIMEOUT: duration.default('48h'),
  /** `on`: `npm start` runs the simulated carrier (src/services/carrierSimulator); production: `off`. */
  CARRIER_SIMULATOR: z.enum(['on', 'off']).default('on'),
  UNSERVED_COUNTRIES: csv.default(['KP', 'IR', 'SY', 'CU']),
  /**
   * `on`: new sagas run their steps as local activities (one workflow task runs several
   * steps; markers in history instead of activity events); `off`: regular activities.
   */
  SAGA_LOCAL_ACTIVITIES: z.enum(['on', 'off']).default('off'),
  ACTIVITY_START_TO_CLOSE: z.string().default('30s'),
  ACTIVITY_MAX_ATTEMPTS: positiveInt.default(10),
  COMPENSATION_MAX_ATTEMPTS: positiveInt.default(20),
  API_KEYS: z.string().optional(),
  /** Keys the fingerprints of idempotent requests (required in production). */
  IDEMPOTENCY_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Days an idempotency key keeps its request fingerprint and answer; then only a 409. */
  IDEMPOTENCY_RETENTION_DAYS: positiveInt.default(30),
  /** Open SSE feeds (GET /events) one API process serves; beyond it, 503 with Retry-After. */
  SSE_MAX_CONNECTIONS: positiveInt.default(100),
  METRICS_PORT: nonNegativeInt.max(65535).default(9464),
  /** Where a worker's Runtime serves the Temporal SDK's metrics, appended to the API's /metrics. */
  SDK_METRICS_URL: url(['http:', 'https:']).optional(),
  /** Finished streams (completed/cancelled orders, ...) whose last event is this old may be archived. */
  ARCHIVE_AFTER: durationMs.prefault('30d'),
  /** How often the projector role archives (`off`: only `npm run archive` does). */
  ARCHIVE_INTERVAL: z.union([z.literal('off'), durationMs]).prefault('off'),
  /** Streams moved per archive transaction. */
  ARCHIVE_BATCH_SIZE: positiveInt.default(200),
  /** `enabled` lets rows in fault_injections break activities on purpose (tests, chaos, demos). */
  FAULT_INJECTION: z.enum(['enabled', 'disabled']).default('disabled'),
  ...integrationConfigShape,
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
      .join('\n');
    throw new ConfigError(`Invalid configuration:\n${problems}`);
  }
  return parsed.data;
}
