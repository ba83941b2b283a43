import './esmShim';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { CommandHandler } from '../../../src/application/commandHandler';
import { buildApp, type AppOptions } from '../../../src/api/app';
import { projectionReadModels } from '../../../src/api/projectionReadModels';
import { loadConfig, type Config } from '../../../src/config';
import { Metrics } from '../../../src/observability/metrics';
import { ALL_PROJECTIONS, createInlineProjector } from '../../../src/projections';
import { createTestDatabase, type TestDatabase } from '../../support/testDatabase';
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
): Promise<ApiTestApp> {
  const db = await createTestDatabase(label);
  const temporal = await connectTestTemporal();
  const config = loadConfig({
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue(label),
    LOG_LEVEL: 'silent',
    ...env,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  const commands = new CommandHandler(db.eventStore, {
    afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
  });
  const app = buildApp(
    {
      pool: db.pool,
      eventStore: db.eventStore,
      commands,
      temporal: temporal.client,
      config,
      readModels: projectionReadModels,
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
