import './esmShim';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { CommandHandler } from '../../../src/application/commandHandler';
import { buildApp, type AppOptions } from '../../../src/api/app';
import { projectionReadModels } from '../../../src/api/projectionReadModels';
import { loadConfig, type Config } from '../../../src/config';
import { Metrics } from '../../../src/observability/metrics';
import { ALL_PROJECTIONS, createInlineProjector } from '../../../src/projections';
import { createPool, type PoolOptions } from '../../../src/eventstore';
import {
  createTestDatabase,
  projectionSource,
  type TestDatabase,
} from '../../support/testDatabase';
import { connectTestTemporal, uniqueTaskQueue } from '../../support/temporal';

export interface ApiTestApp {
  app: FastifyInstance;
  db: TestDatabase;
  env: TestWorkflowEnvironment;
  config: Config;
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * An API over its own database and a task queue no worker polls: sagas start but do not
 * run (enough for validation, auth and idempotency). Inline projections keep reads fresh.
 */
export async function createApiTestApp(
  label: string,
  env: Record<string, string> = {},
  options: AppOptions = {},
  /** When given, the app gets a pool of its own with these limits (timeouts). */
  poolOptions?: PoolOptions,
): Promise<ApiTestApp> {
  const db = await createTestDatabase(label);
  const pool = poolOptions ? createPool(db.url, poolOptions) : db.pool;
  const { eventStore } = poolOptions ? projectionSource(pool) : db;
  const temporal = await connectTestTemporal();
  const config = loadConfig({
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue(label),
    LOG_LEVEL: 'silent',
    ...env,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  const commands = new CommandHandler(eventStore, {
    afterAppend: createInlineProjector(pool, ALL_PROJECTIONS, () => {}),
  });
  const app = buildApp(
    {
      pool,
      eventStore,
      commands,
      temporal: temporal.client,
      config,
      readModels: projectionReadModels(eventStore),
      metrics,
    },
    { readWaitMs: 300, ssePollMs: 50, ...options },
  );
  await app.ready();
  return {
    app,
    db,
    env: temporal,
    config,
    metrics,
    async close() {
      await app.close();
      if (pool !== db.pool) await pool.end();
      await temporal.teardown();
      await db.drop();
    },
  };
}

export const address = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1',
  country: 'GB',
};

export const orderBody = (overrides: Record<string, unknown> = {}) => ({
  customerId: 'cust-1',
  paymentAccountId: 'acc-1',
  items: [{ sku: 'SKU-1', quantity: 2, unitPrice: 1250 }],
  shippingAddress: address,
  ...overrides,
});
