import type { NatsConnection } from '@nats-io/transport-node';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { RunningConsumer } from '../../messaging/durableConsumer';
import type { LoyaltyConfig } from './config';
import { startLoyaltyConsumer, type LoyaltyConsumerDeps } from './consumer';
import { buildLoyaltyApp } from './http';
import { migrateLoyalty } from './migrate';

export interface LoyaltyServiceDeps {
  config: LoyaltyConfig;
  /** A connection with the streams in place (connectAndEnsureStreams). */
  nc: NatsConnection;
  log: Logger;
  beforeAck?: LoyaltyConsumerDeps['beforeAck'];
}

export interface RunningLoyaltyService {
  /** Where its HTTP API listens, e.g. http://127.0.0.1:3100. */
  url: string;
  pool: Pool;
  stop(): Promise<void>;
}

/** Migrates its schema, starts its consumer and its HTTP API. */
export async function startLoyaltyService(
  deps: LoyaltyServiceDeps,
): Promise<RunningLoyaltyService> {
  const { config } = deps;
  const log = deps.log.child({ service: 'loyalty' });
  await migrateLoyalty(config.databaseUrl);
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: 5,
    application_name: 'loyalty',
  });
  // A connection that dies (Postgres restarts, pg_terminate_backend) must not crash the
  // service: an idle client's error reaches the pool, a checked-out one's reaches the client
  // (its query in flight rejects, the consumer retries the message, the pool drops the client).
  pool.on('error', (error) => log.warn({ error: error.message }, 'idle database connection lost'));
  pool.on('connect', (client) => client.on('error', () => {}));
  let consumer: RunningConsumer | undefined;
  const app = buildLoyaltyApp({ pool });
  try {
    consumer = await startLoyaltyConsumer({
      nc: deps.nc,
      pool,
      log,
      spec: {
        ackWaitMs: config.ackWaitMs,
        maxDeliver: config.maxDeliver,
        retryDelayMs: config.retryDelayMs,
      },
      ...(deps.beforeAck && { beforeAck: deps.beforeAck }),
    });
    const url = await app.listen({ port: config.port, host: config.host });
    log.info({ url }, 'loyalty service listening');
    return {
      url,
      pool,
      async stop() {
        await app.close();
        await consumer?.stop();
        await pool.end();
      },
    };
  } catch (error) {
    await app.close().catch(() => undefined);
    await consumer?.stop().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}
