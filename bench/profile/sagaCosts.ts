/**
 * Where does a saga's CPU go? Runs batches of concurrent workflows, each on a fresh dev
 * server, and reports CPU milliseconds per workflow by process (this process = client +
 * worker, the Temporal server, Postgres), for:
 *   - baseline:  11 no-op activities (the `npm run bench` baseline)
 *   - sagaNoop:  orderFulfillment with activities that do nothing (what Temporal costs)
 *   - saga:      orderFulfillment with the real activities (plus the event store)
 * and the Postgres statements one saga runs. Rounds alternate.
 *
 *   DATABASE_URL=postgres://... npx tsx bench/profile/sagaCosts.ts [count] [rounds]
 *
 * Not a suite of `npm run bench`: a tool for whoever tunes the sagas.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { SagaActivities } from '../../activities';
import { DirectCommands } from '../../src/application/directCommands';
import { openMerchantAccount } from '../../src/application/merchantAccount';
import { placeOrderAndStartSaga, startOrderSaga } from '../../src/application/sagaStarter';
import { loadConfig } from '../../src/config';
import { migrate } from '../../src/eventstore';
import { createLogger } from '../../src/logger';
import { createSystem } from '../../src/system/createSystem';
import { PROCESS_ROLES } from '../../src/system/roles';
import { sagaWorkerParts } from '../../src/worker/createWorker';
import * as noopActivities from '../fixtures/noopActivities';
import type { CpuTotals } from '../support/cpuAccounting';
import { DatabaseFactory } from '../support/database';
import {
  bundleBenchWorkflows,
  runWorkflowBatch,
  workflowsPerBatch,
  type StartWorkflow,
} from '../support/workflowBatch';

const ACTIVITIES_PER_ORDER = 11;

/** Counts the statements run through the pool, by their first words. */
function countStatements(pool: Pool): Map<string, number> {
  const counts = new Map<string, number>();
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 60);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return query(...args);
  };
  return counts;
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('set DATABASE_URL');
  const count = Number(process.argv[2] ?? 150);
  const rounds = Number(process.argv[3] ?? 2);
  const databases = new DatabaseFactory(serverUrl);
  const database = await databases.create('saga_costs');
  await migrate(database.url);
  const config = {
    ...loadConfig({
      ...process.env,
      APPROVAL_THRESHOLD: String(Number.MAX_SAFE_INTEGER),
      DELIVERY_CONFIRMATION: 'none',
    }),
    DATABASE_URL: database.url,
  };
  const logger = createLogger('warn', 'saga-costs');
  // The worker's system, as start:worker builds it.
  const system = createSystem(config, {
    applicationName: 'saga-costs',
    logger,
    poolMax: 30,
    inlineProjection: PROCESS_ROLES.worker.inlineProjection,
  });
  const { commands, eventStore } = system;
  const statements = countStatements(system.pool);
  // Accounts and stock are seeded through a system of their own, as another process would
  // have: the worker's handler starts with none of them remembered.
  const seeder = createSystem(config, { applicationName: 'saga-costs-seed', logger, poolMax: 2 });
  const direct = new DirectCommands(seeder.commands);
  const bundle = await bundleBenchWorkflows();
  // The production worker's activities (guarded), every country served.
  const real = sagaWorkerParts({
    commands,
    eventStore,
    config: { ...config, UNSERVED_COUNTRIES: [] },
  }).activities;
  const step = () => Promise.resolve({ version: 1, position: null, noop: false });
  const fake = Object.fromEntries(
    Object.keys(real).map((name) => [name, step]),
  ) as unknown as SagaActivities;
  fake.bookShipment = async (input) => ({ ...(await step()), shipmentId: input.orderId });
  const workers = {
    real: { taskQueue: 'real', bundle, activities: { ...real, ...noopActivities } },
    fake: { taskQueue: 'fake', bundle, activities: { ...fake, ...noopActivities } },
  };

  try {
    await openMerchantAccount(seeder.commands, config.MERCHANT_ACCOUNT_ID);
    await direct.restock(
      { sku: 'sku-0', quantity: 1_000_000, reference: 'seed' },
      { commandId: 'r' },
    );
    const customers = workflowsPerBatch(count) * rounds * 2;
    for (let i = 0; i < customers; i++) {
      await direct.openAccount(
        { accountId: `cust-${i}`, ownerId: `c-${i}`, initialDeposit: 1_000_000 },
        { commandId: `open-${i}` },
      );
    }
    let baselines = 0;
    let orders = 0; // sagaNoop and saga orders, hence two customers per workflow of a round
    const order = () => {
      const i = orders++;
      return {
        orderId: `o-${i}`,
        customerId: `c-${i}`,
        paymentAccountId: `cust-${i}`,
        items: [{ sku: 'sku-0', quantity: 1, unitPrice: 1_000 }],
        shippingAddress: { name: 'B', line1: '1', city: 'L', postalCode: '0', country: 'GB' },
        correlationId: `corr-${i}`,
      };
    };
    const starter = (client: Client, queue: string) => ({
      client,
      commands,
      config: { ...config, TEMPORAL_TASK_QUEUE: queue },
    });
    const variants: Record<string, { start: StartWorkflow; worker: typeof workers.real }> = {
      baseline: {
        worker: workers.real,
        start: (client) => async () =>
          (
            await client.workflow.start('baselineWorkflow', {
              workflowId: `baseline-${baselines++}`,
              taskQueue: 'real',
              args: [ACTIVITIES_PER_ORDER],
            })
          ).workflowId,
      },
      sagaNoop: {
        worker: workers.fake,
        start: (client) => async () =>
          (await startOrderSaga(starter(client, 'fake'), order())).sagaId,
      },
      saga: {
        worker: workers.real,
        start: (client) => async () =>
          (await placeOrderAndStartSaga(starter(client, 'real'), order())).sagaId,
      },
    };

    const cpu: Record<string, CpuTotals[]> = {};
    const rates: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      const names = Object.keys(variants);
      for (const name of round % 2 === 0 ? names : names.reverse()) {
        const { start, worker } = variants[name]!;
        if (name === 'saga') statements.clear();
        const batch = await runWorkflowBatch(`${name}, round ${round + 1}`, count, start, worker);
        (cpu[name] ??= []).push(batch.cpuMs);
        (rates[name] ??= []).push((count / batch.elapsedMs) * 1000);
        if (name === 'saga' && round === 0) {
          console.log(`\nstatements per saga (warm-up included):`);
          for (const [text, n] of statements) {
            console.log(`  ${(n / workflowsPerBatch(count)).toFixed(2).padStart(5)}  ${text}`);
          }
        }
      }
    }
    const mean = (values: number[]) =>
      values.reduce((sum, value) => sum + value, 0) / values.length;
    console.log(`\nCPU ms per workflow (${count} at once, mean of ${rounds} fresh servers)`);
    console.log('variant    workflows/s   worker  Temporal  Postgres   total');
    for (const [name, samples] of Object.entries(cpu)) {
      const [w, t, p] = (['worker', 'temporal', 'postgres'] as const).map((key) =>
        mean(samples.map((sample) => sample[key])),
      ) as [number, number, number];
      console.log(
        `${name.padEnd(10)} ${mean(rates[name]!).toFixed(1).padStart(11)} ${w.toFixed(1).padStart(8)} ${t.toFixed(1).padStart(9)} ${p.toFixed(1).padStart(9)} ${(w + t + p).toFixed(1).padStart(7)}`,
      );
    }
  } finally {
    await seeder.close();
    await system.close();
    await databases.dropAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
