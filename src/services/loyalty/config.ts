import { z } from 'zod';

/**
 * The loyalty service's configuration (LOYALTY_*, NATS_URL), read once at start. Its own:
 * it is a separate service, and shares nothing with Sagaflow but the bus.
 */
const schema = z.object({
  /** Its own database (or the same server: it keeps to its `loyalty` schema). */
  LOYALTY_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_URL: z.string().optional(),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  LOYALTY_PORT: z.coerce.number().int().min(0).max(65535).default(3100),
  LOYALTY_HOST: z.string().default('127.0.0.1'),
  /** Deliveries of a failing message before it goes to the dead-letter stream. */
  LOYALTY_MAX_DELIVER: z.coerce.number().int().min(1).default(5),
  /** Unacked this long: redelivered. */
  LOYALTY_ACK_WAIT_MS: z.coerce.number().int().min(100).default(30_000),
  /** Wait before a failed message is tried again. */
  LOYALTY_RETRY_DELAY_MS: z.coerce.number().int().min(0).default(2_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface LoyaltyConfig {
  databaseUrl: string;
  natsUrl: string;
  port: number;
  host: string;
  maxDeliver: number;
  ackWaitMs: number;
  retryDelayMs: number;
  logLevel: string;
}

export function loadLoyaltyConfig(env: NodeJS.ProcessEnv = process.env): LoyaltyConfig {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `  ${i.path.join('.')}: ${i.message}`)
      .join('\n');
    throw new Error(`Invalid loyalty configuration:\n${problems}`);
  }
  const c = parsed.data;
  const databaseUrl = c.LOYALTY_DATABASE_URL ?? c.DATABASE_URL;
  if (!databaseUrl)
    throw new Error(
      'Invalid loyalty configuration:\n  LOYALTY_DATABASE_URL: required (or DATABASE_URL)',
    );
  return {
    databaseUrl,
    natsUrl: c.NATS_URL,
    port: c.LOYALTY_PORT,
    host: c.LOYALTY_HOST,
    maxDeliver: c.LOYALTY_MAX_DELIVER,
    ackWaitMs: c.LOYALTY_ACK_WAIT_MS,
    retryDelayMs: c.LOYALTY_RETRY_DELAY_MS,
    logLevel: c.LOG_LEVEL,
  };
}
