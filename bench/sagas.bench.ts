import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { CommandHandler } from '../src/application/commandHandler';
import { DirectCommands } from '../src/application/directCommands';
import { placeOrderAndStartSaga } from '../src/application/sagaStarter';
import { loadConfig } from '../src/config';
import { createPool, migrate, PostgresEventStore } from '../src/eventstore';
import { startTemporalDevServer } from '../src/infra/temporalDevServer';
import * as noopActivities from './fixtures/noopActivities';
import { createProgress } from './support/progress';
import { round, summarizeLatencies } from './support/stats';
import { compare, type BenchContext, type BenchSuite } from './support/suite';

/** Activities a one-line order runs on its happy path (reserve … complete). */
const ACTIVITIES_PER_ORDER = 11;
const SKUS = 10;

interface RunFigures {
  rate: number;
  p50Ms: number;
  p99Ms: number;
}

/** Starts `count` workflows at once and times each from its start to its completion. */
async function timeConcurrent(
  label: string,
  count: number,
  start: (i: number) => Promise<string>,
  client: Client,
): Promise<RunFigures> {
  const progress = createProgress(label, count);
  const began = performance.now();
  const latencies = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const t0 = performance.now();
      const workflowId = await start(i);
      await client.workflow.getHandle(workflowId).result();
      progress.tick();
      return performance.now() - t0;
    }),
  );
  progress.done();
  const seconds = (performance.now() - began) / 1000;
  const summary = summarizeLatencies(latencies);
  return { rate: round(count / seconds), p50Ms: round(summary.p50Ms), p99Ms: round(summary.p99Ms) };
}

export const sagasSuite: BenchSuite = {
  name: 'sagas',
  description:
    '200 orderFulfillment sagas started at once vs a workflow of as many no-op activities',
  async run(context: BenchContext) {
    const count = context.scaled(200, 20);
    const database = await context.databases.create('sagas');
    await migrate(database.url);
    const pool = createPool(database.url, { max: 30 });
    const eventStore = new PostgresEventStore(pool);
    const commands = new CommandHandler(eventStore);
    const direct = new DirectCommands(commands);

    context.log('sagas: starting a Temporal dev server');
    const server = await startTemporalDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH,
      ui: false,
    });
    const taskQueue = 'bench-sagas';
    const config = loadConfig({
      ...process.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      APPROVAL_THRESHOLD: String(Number.MAX_SAFE_INTEGER),
    });
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: path.join(__dirname, 'fixtures', 'workflows.ts'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
      }),
      activities: {
        ...createActivities({ commands, eventStore, unservedCountries: config.UNSERVED_COUNTRIES }),
        ...noopActivities,
      },
      maxConcurrentActivityTaskExecutions: 200,
    });
    const running = worker.run();
    const client = server.env.client;

    try {
      await direct.openAccount(
        { accountId: config.MERCHANT_ACCOUNT_ID, ownerId: 'merchant' },
        { commandId: 'bench/merchant' },
      );
      context.log(`sagas: seeding ${count * 2 + 20} customer accounts and ${SKUS} SKUs`);
      for (let s = 0; s < SKUS; s++) {
        await direct.restock(
          { sku: `sku-${s}`, quantity: 1_000_000, reference: 'seed' },
          { commandId: `bench/restock/${s}` },
        );
      }
      const customers = Array.from({ length: count * 2 + 20 }, (_, i) => `cust-${i}`);
      for (const id of customers) {
        await direct.openAccount(
          { accountId: id, ownerId: id, initialDeposit: 1_000_000 },
          { commandId: `bench/open/${id}` },
        );
      }
      const deps = { client, commands, config };
      let next = 0;
      const startOrder = async () => {
        const i = next++;
        const started = await placeOrderAndStartSaga(deps, {
          orderId: `bench-${i}`,
          customerId: `c-${i}`,
          paymentAccountId: `cust-${i}`,
          items: [{ sku: `sku-${i % SKUS}`, quantity: 1, unitPrice: 1_000 }],
          shippingAddress: {
            name: 'Bench',
            line1: '1 Loop',
            city: 'Load',
            postalCode: '0',
            country: 'GB',
          },
          correlationId: `bench-${i}`,
        });
        return started.sagaId;
      };
      let baselineNext = 0;
      const startBaseline = async () => {
        const handle = await client.workflow.start('baselineWorkflow', {
          workflowId: `baseline-${baselineNext++}`,
          taskQueue,
          args: [ACTIVITIES_PER_ORDER],
        });
        return handle.workflowId;
      };

      // Warm up both paths (bundle caches, connection pools, JIT) before measuring.
      await timeConcurrent('sagas warm-up', 10, startOrder, client);
      await timeConcurrent('baseline warm-up', 10, startBaseline, client);
      const ours = await timeConcurrent('orderFulfillment', count, startOrder, client);
      const baseline = await timeConcurrent('no-op baseline', count, startBaseline, client);
      return {
        sagas200_vs_noop_workflow: compare(ours, baseline, 'sagas/s', {
          goal: 0.7,
          concurrent: count,
          activitiesPerSaga: ACTIVITIES_PER_ORDER,
        }),
      };
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await server.stop();
      await pool.end();
    }
  },
};
