import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { DirectCommands } from '../src/application/directCommands';
import { openMerchantAccount } from '../src/application/merchantAccount';
import { placeOrderAndStartSaga, startTransferSaga } from '../src/application/sagaStarter';
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
import {
  bundleBenchWorkflows,
  runWorkflowBatch,
  workflowsPerBatch,
  type BatchWorker,
  type WorkflowBatch,
} from './support/workflowBatch';

/** Activities a one-line order runs on its happy path (reserve … complete). */
const ACTIVITIES_PER_ORDER = 11;
/** Activities a transfer runs on its happy path (request, debit, mark, credit, mark, complete). */
const ACTIVITIES_PER_TRANSFER = 6;
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

type StepKind = 'activities' | 'local';
const KINDS: readonly StepKind[] = ['activities', 'local'];

/** One saga type measured on both step kinds against the same count of no-op activities. */
interface SagaComparison {
  sagaType: string;
  activitiesPerSaga: number;
  /** Starts one saga of the kind; each call a new business id whose accounts are seeded. */
  start(kind: StepKind): (client: Client) => () => Promise<string>;
}

/**
 * Rounds of `count` sagas of each kind and of the baseline, each round rotating which side
 * goes first so that none always runs on a warmer machine.
 */
async function compareSagaKinds(
  context: BenchContext,
  comparison: SagaComparison,
  count: number,
  worker: BatchWorker,
) {
  let baselines = 0;
  const startBaseline = (client: Client) => async () => {
    const handle = await client.workflow.start('baselineWorkflow', {
      workflowId: `baseline-${comparison.sagaType}-${baselines++}`,
      taskQueue: TASK_QUEUE,
      args: [comparison.activitiesPerSaga],
    });
    return handle.workflowId;
  };
  const sides = [
    {
      side: 'activities',
      label: `${comparison.sagaType} (activities)`,
      start: comparison.start('activities'),
    },
    {
      side: 'local',
      label: `${comparison.sagaType} (local activities)`,
      start: comparison.start('local'),
    },
    { side: 'baseline', label: 'no-op baseline', start: startBaseline },
  ] as const;
  const batches = {
    activities: [] as WorkflowBatch[],
    local: [] as WorkflowBatch[],
    baseline: [] as WorkflowBatch[],
  };
  for (let round = 1; round <= ROUNDS; round++) {
    const first = (round - 1) % sides.length;
    for (const { side, label, start } of [...sides.slice(first), ...sides.slice(0, first)]) {
      batches[side].push(await runWorkflowBatch(`${label}, round ${round}`, count, start, worker));
    }
  }
  const baseline = summarize(batches.baseline);
  if (cpuAccountingAvailable()) {
    context.log(
      `${comparison.sagaType}: CPU ms per saga, no-op baseline: ${showCpu(baseline.cpuMsPerSaga)}`,
    );
  }
  const entry = (kind: StepKind, goal: number) => {
    const ours = summarize(batches[kind]);
    const roundRatios = batches[kind].map((batch, index) =>
      round(batches.baseline[index]!.elapsedMs / batch.elapsedMs),
    );
    context.log(
      `${comparison.sagaType} on ${kind}: ours/baseline by round ${roundRatios.join(', ')}`,
    );
    if (cpuAccountingAvailable()) {
      context.log(
        `${comparison.sagaType} on ${kind}: CPU ms per saga ${showCpu(ours.cpuMsPerSaga)}`,
      );
    }
    return compare(ours, baseline, 'sagas/s', {
      goal,
      concurrent: count,
      rounds: ROUNDS,
      roundRatios,
      activitiesPerSaga: comparison.activitiesPerSaga,
      ...(cpuAccountingAvailable() && {
        oursCpuMsPerSaga: ours.cpuMsPerSaga,
        baselineCpuMsPerSaga: baseline.cpuMsPerSaga,
      }),
    });
  };
  return { activities: entry('activities', 0.85), local: entry('local', 1.3) };
}

const showCpu = (cpu: CpuTotals) =>
  `worker ${cpu.worker}, Temporal ${cpu.temporal}, Postgres ${cpu.postgres}`;

export const sagasSuite: BenchSuite = {
  name: 'sagas',
  description: `${ROUNDS} rounds of 200 sagas started at once (orders, then transfers; on activities and on local activities) vs a workflow of as many no-op activities`,
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
    const worker: BatchWorker = {
      taskQueue: TASK_QUEUE,
      bundle: await bundleBenchWorkflows(),
      // The production worker's activities (guarded, on the system's store) plus the no-ops.
      activities: {
        ...sagaWorkerParts({ commands, eventStore: system.eventStore, config }).activities,
        ...noopActivities,
      },
    };
    const configFor = (kind: StepKind) => ({
      ...config,
      SAGA_LOCAL_ACTIVITIES: kind === 'local' ? ('on' as const) : ('off' as const),
    });
    const sagasPerKind = workflowsPerBatch(count) * ROUNDS;
    const openAccounts = async (prefix: string, deposit: number) => {
      for (let i = 0; i < sagasPerKind * KINDS.length; i++) {
        await direct.openAccount(
          { accountId: `${prefix}-${i}`, ownerId: `${prefix}-${i}`, initialDeposit: deposit },
          { commandId: `bench/open/${prefix}-${i}` },
        );
      }
    };

    let orders = 0;
    const orderSagas: SagaComparison = {
      sagaType: 'orderFulfillment',
      activitiesPerSaga: ACTIVITIES_PER_ORDER,
      start: (kind) => (client) => async () => {
        const i = orders++;
        const started = await placeOrderAndStartSaga(
          { client, commands, config: configFor(kind) },
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
      },
    };
    let transfers = 0;
    const transferSagas: SagaComparison = {
      sagaType: 'moneyTransfer',
      activitiesPerSaga: ACTIVITIES_PER_TRANSFER,
      start: (kind) => (client) => async () => {
        const i = transfers++;
        const started = await startTransferSaga(
          { client, commands, config: configFor(kind) },
          {
            transferId: `bench-${i}`,
            fromAccountId: `from-${i}`,
            toAccountId: `to-${i}`,
            amount: 1_000,
            correlationId: `bench-transfer-${i}`,
          },
        );
        return started.sagaId;
      },
    };

    try {
      await openMerchantAccount(seeder.commands, config.MERCHANT_ACCOUNT_ID);
      context.log(
        `sagas: seeding ${sagasPerKind * KINDS.length} accounts per role and ${SKUS} SKUs`,
      );
      for (let s = 0; s < SKUS; s++) {
        await direct.restock(
          { sku: `sku-${s}`, quantity: 1_000_000, reference: 'seed' },
          { commandId: `bench/restock/${s}` },
        );
      }
      await openAccounts('cust', 1_000_000);
      await openAccounts('from', 1_000_000);
      await openAccounts('to', 0);

      const orderEntries = await compareSagaKinds(context, orderSagas, count, worker);
      const transferEntries = await compareSagaKinds(context, transferSagas, count, worker);
      // A saga that failed would make its side look fast: every one must have completed.
      await expectCompleted(system.pool, 'OrderCompleted', orders);
      await expectCompleted(system.pool, 'TransferCompleted', transfers);
      return {
        sagas200_vs_noop_workflow: orderEntries.activities,
        sagas200_local_activities_vs_noop_workflow: orderEntries.local,
        transfers200_vs_noop_workflow: transferEntries.activities,
        transfers200_local_activities_vs_noop_workflow: transferEntries.local,
      };
    } finally {
      await seeder.close();
      await system.close();
    }
  },
};

async function expectCompleted(pool: Pool, eventType: string, started: number): Promise<void> {
  const { rows } = await pool.query<{ count: string }>(
    'SELECT count(*) FROM events WHERE event_type = $1',
    [eventType],
  );
  const completed = Number(rows[0]?.count ?? 0);
  if (completed !== started) {
    throw new Error(
      `${eventType}: ${completed} of ${started} sagas completed; the figures would lie`,
    );
  }
}
