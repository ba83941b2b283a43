import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DirectCommands } from '../src/application/directCommands';
import { openMerchantAccount } from '../src/application/merchantAccount';
import { placeOrderAndStartSaga } from '../src/application/sagaStarter';
import { loadConfig } from '../src/config';
import { migrate } from '../src/eventstore';
import { createLogger } from '../src/logger';
import { createSystem } from '../src/system/createSystem';
import { PROCESS_ROLES } from '../src/system/roles';
import { sagaWorkerParts } from '../src/worker/createWorker';
import * as noopActivities from './fixtures/noopActivities';
import { cpuAccountingAvailable, type CpuTotals } from './support/cpuAccounting';
import { round, summarizeLatencies } from './support/stats';
import { compare, type BenchContext, type BenchSuite } from './support/suite';
import { runWorkflowBatch, workflowsPerBatch, type WorkflowBatch } from './support/workflowBatch';

/** Activities a one-line order runs on its happy path (reserve … complete). */
const ACTIVITIES_PER_ORDER = 11;
const SKUS = 10;
/** Rounds of `count` sagas for each side, alternating which side goes first. */
const ROUNDS = 3;
const TASK_QUEUE = 'bench-sagas';

function summarize(batches: readonly WorkflowBatch[]) {
  const sagas = batches.reduce((sum, batch) => sum + batch.latenciesMs.length, 0);
  const seconds = batches.reduce((sum, batch) => sum + batch.elapsedMs, 0) / 1000;
  const latency = summarizeLatencies(batches.flatMap((batch) => batch.latenciesMs));
  const cpu = (key: keyof CpuTotals) =>
    round(batches.reduce((sum, batch) => sum + batch.cpuMs[key], 0) / batches.length);
  return {
    rate: round(sagas / seconds),
    p50Ms: round(latency.p50Ms),
    p99Ms: round(latency.p99Ms),
    cpuMsPerSaga: { worker: cpu('worker'), temporal: cpu('temporal'), postgres: cpu('postgres') },
  };
}

export const sagasSuite: BenchSuite = {
  name: 'sagas',
  description: `${ROUNDS} rounds of 200 orderFulfillment sagas started at once (on activities, then on local activities) vs a workflow of as many no-op activities`,
  async run(context: BenchContext) {
    const count = context.scaled(200, 20);
    const database = await context.databases.create('sagas');
    await migrate(database.url);
    const config = {
      ...loadConfig({
        ...process.env,
        TEMPORAL_TASK_QUEUE: TASK_QUEUE,
        APPROVAL_THRESHOLD: String(Number.MAX_SAFE_INTEGER),
        DELIVERY_CONFIRMATION: 'none',
      }),
      DATABASE_URL: database.url,
    };
    const logger = createLogger('warn', 'bench-sagas');
    // The worker's system, as start:worker builds it (the worker role's settings).
    const system = createSystem(config, {
      applicationName: 'bench-sagas',
      logger,
      poolMax: 30,
      inlineProjection: PROCESS_ROLES.worker.inlineProjection,
    });
    const { commands } = system;
    // Accounts and stock are seeded through a system of their own, as another process would
    // have: the worker's handler starts with none of them remembered.
    const seeder = createSystem(config, {
      applicationName: 'bench-sagas-seed',
      logger,
      poolMax: 2,
    });
    const direct = new DirectCommands(seeder.commands);
    const worker = {
      taskQueue: TASK_QUEUE,
      bundle: await bundleWorkflowCode({
        workflowsPath: path.join(__dirname, 'fixtures', 'workflows.ts'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
      }),
      // The production worker's activities (guarded, on the system's store) plus the no-ops.
      activities: {
        ...sagaWorkerParts({ commands, eventStore: system.eventStore, config }).activities,
        ...noopActivities,
      },
    };

    try {
      await openMerchantAccount(seeder.commands, config.MERCHANT_ACCOUNT_ID);
      const customerCount = workflowsPerBatch(count) * ROUNDS;
      context.log(`sagas: seeding ${customerCount} customer accounts and ${SKUS} SKUs`);
      for (let s = 0; s < SKUS; s++) {
        await direct.restock(
          { sku: `sku-${s}`, quantity: 1_000_000, reference: 'seed' },
          { commandId: `bench/restock/${s}` },
        );
      }
      for (let i = 0; i < customerCount; i++) {
        await direct.openAccount(
          { accountId: `cust-${i}`, ownerId: `cust-${i}`, initialDeposit: 1_000_000 },
          { commandId: `bench/open/cust-${i}` },
        );
      }
      let orders = 0;
      /** Orders started with the given step kind (SAGA_LOCAL_ACTIVITIES). */
      const startOrder = (localActivities: 'on' | 'off') => (client: Client) => async () => {
        const i = orders++;
        const started = await placeOrderAndStartSaga(
          { client, commands, config: { ...config, SAGA_LOCAL_ACTIVITIES: localActivities } },
          {
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
          },
        );
        return started.sagaId;
      };
      let baselines = 0;
      const startBaseline = (client: Client) => async () => {
        const handle = await client.workflow.start('baselineWorkflow', {
          workflowId: `baseline-${baselines++}`,
          taskQueue: TASK_QUEUE,
          args: [ACTIVITIES_PER_ORDER],
        });
        return handle.workflowId;
      };

      const sides = {
        regular: { label: 'orderFulfillment (activities)', start: startOrder('off') },
        local: { label: 'orderFulfillment (local activities)', start: startOrder('on') },
        baseline: { label: 'no-op baseline', start: startBaseline },
      };
      type Side = keyof typeof sides;
      const batches: Record<Side, WorkflowBatch[]> = { regular: [], local: [], baseline: [] };
      const order: Side[] = ['regular', 'local', 'baseline'];
      for (let round = 1; round <= ROUNDS; round++) {
        // Each round rotates which side goes first, so no side always runs on a warmer machine.
        const rotated = [...order.slice(round - 1), ...order.slice(0, round - 1)];
        for (const side of rotated) {
          const { label, start } = sides[side];
          batches[side].push(
            await runWorkflowBatch(`${label}, round ${round}`, count, start, worker),
          );
        }
      }
      const roundRatios = (side: Side) =>
        batches[side].map((batch, index) =>
          round(batches.baseline[index]!.elapsedMs / batch.elapsedMs),
        );
      const summaries = {
        regular: summarize(batches.regular),
        local: summarize(batches.local),
        baseline: summarize(batches.baseline),
      };
      context.log(`sagas: activities/baseline by round ${roundRatios('regular').join(', ')}`);
      context.log(`sagas: local activities/baseline by round ${roundRatios('local').join(', ')}`);
      const cpuOf = (side: Side) =>
        cpuAccountingAvailable() && { [`${side}CpuMsPerSaga`]: summaries[side].cpuMsPerSaga };
      if (cpuAccountingAvailable()) {
        const show = (cpu: CpuTotals) =>
          `worker ${cpu.worker}, Temporal ${cpu.temporal}, Postgres ${cpu.postgres}`;
        for (const side of order) {
          context.log(`sagas: CPU ms per saga, ${side}: ${show(summaries[side].cpuMsPerSaga)}`);
        }
      }
      const shared = { concurrent: count, rounds: ROUNDS, activitiesPerSaga: ACTIVITIES_PER_ORDER };
      return {
        sagas200_vs_noop_workflow: compare(summaries.regular, summaries.baseline, 'sagas/s', {
          goal: 0.85,
          ...shared,
          roundRatios: roundRatios('regular'),
          ...cpuOf('regular'),
          ...cpuOf('baseline'),
        }),
        sagas200_local_activities_vs_noop_workflow: compare(
          summaries.local,
          summaries.baseline,
          'sagas/s',
          { goal: 1.3, ...shared, roundRatios: roundRatios('local'), ...cpuOf('local') },
        ),
      };
    } finally {
      await seeder.close();
      await system.close();
    }
  },
};
