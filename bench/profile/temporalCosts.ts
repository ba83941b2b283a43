/**
 * What does each Temporal feature a saga uses cost the server? Runs batches of a workflow
 * of 11 no-op activities, plain and with one feature added, each batch on a fresh dev
 * server, and reports CPU milliseconds per workflow by process. Rounds alternate.
 *
 *   npx tsx bench/profile/temporalCosts.ts [count] [rounds]
 *
 * Not a suite of `npm run bench`: a tool for whoever changes what sagas ask of Temporal.
 */
import type { Client } from '@temporalio/client';
import {
  CORRELATION_ID,
  CUSTOMER_ID,
  SAGA_STATUS,
  SAGA_TYPE,
} from '../../workflows/searchAttributes';
import type { Shape } from '../fixtures/shapeWorkflow';
import * as noopActivities from '../fixtures/noopActivities';
import type { CpuTotals } from '../support/cpuAccounting';
import {
  bundleBenchWorkflows,
  runWorkflowBatch,
  type StartWorkflow,
} from '../support/workflowBatch';

const ACTIVITIES = 11;
const plain: Shape = { activities: ACTIVITIES, upsertBefore: [], patch: false };

let next = 0;
const startShape =
  (shape: Shape, withStartMetadata = false): StartWorkflow =>
  (client: Client) =>
  async () => {
    const i = next++;
    const handle = await client.workflow.start('shapeWorkflow', {
      workflowId: `shape-${i}`,
      taskQueue: 'shapes',
      args: [shape],
      ...(withStartMetadata && {
        typedSearchAttributes: [
          { key: SAGA_TYPE, value: 'orderFulfillment' },
          { key: SAGA_STATUS, value: 'PLACED' },
          { key: CUSTOMER_ID, value: `c-${i}` },
          { key: CORRELATION_ID, value: `corr-${i}` },
        ],
        staticSummary: `Order ${i} · 1 line · 10.00 · customer c-${i}`,
      }),
    });
    return handle.workflowId;
  };

const VARIANTS: Record<string, StartWorkflow> = {
  plain: startShape(plain),
  'search attributes + summary at start': startShape(plain, true),
  '2 SagaStatus upserts': startShape({ ...plain, upsertBefore: [5, ACTIVITIES] }),
  '5 SagaStatus upserts': startShape({ ...plain, upsertBefore: [2, 4, 6, 9, ACTIVITIES] }),
  'patched() once': startShape({ ...plain, patch: true }),
};

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 150);
  const rounds = Number(process.argv[3] ?? 5);
  const worker = {
    taskQueue: 'shapes',
    bundle: await bundleBenchWorkflows(),
    activities: noopActivities,
  };
  const cpu: Record<string, CpuTotals[]> = {};
  for (let round = 0; round < rounds; round++) {
    const names = Object.keys(VARIANTS);
    for (const name of round % 2 === 0 ? names : names.reverse()) {
      const batch = await runWorkflowBatch(
        `${name}, round ${round + 1}`,
        count,
        VARIANTS[name]!,
        worker,
      );
      (cpu[name] ??= []).push(batch.cpuMs);
    }
  }
  // The median: a shared machine now and then slows one batch down by a fifth.
  const mean = (samples: CpuTotals[], key: keyof CpuTotals) => {
    const sorted = samples.map((sample) => sample[key]).sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const base = cpu.plain!;
  console.log(`\nCPU ms per workflow (${count} at once, median of ${rounds} fresh servers)`);
  console.log('variant                                 Temporal  worker   vs plain');
  for (const [name, samples] of Object.entries(cpu)) {
    const total = mean(samples, 'temporal') + mean(samples, 'worker');
    const extra = total - (mean(base, 'temporal') + mean(base, 'worker'));
    console.log(
      `${name.padEnd(38)} ${mean(samples, 'temporal').toFixed(1).padStart(9)} ${mean(samples, 'worker').toFixed(1).padStart(7)} ${`${extra >= 0 ? '+' : ''}${extra.toFixed(1)}`.padStart(9)}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
