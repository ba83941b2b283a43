/** Startup: wait until the system answers, then open the customer accounts and stock the SKUs. */
import type { Connection } from '@temporalio/client';
import type { ChaosContext } from '../context';
import type { ManagedProcess } from '../processes';
import { mapLimit, waitFor } from '../util';
import type { ChaosPhase } from './runner';

const DEPOSIT = 150_000;

async function waitUntilReady(ctx: ChaosContext): Promise<void> {
  const { http, connection, workers } = ctx.system;
  await waitFor('API /health', 120_000, async () => {
    try {
      return (await fetch(`${http.baseUrl}/health`)).ok;
    } catch {
      return false;
    }
  });
  await Promise.all(workers.map((w) => waitForPoller(connection, ctx.taskQueue, w, 180_000)));
  ctx.note('API healthy, every worker polling');
}

/** Waits until Temporal lists a poller whose identity is this worker process (`pid@host`). */
async function waitForPoller(
  connection: Connection,
  taskQueue: string,
  worker: ManagedProcess,
  timeoutMs: number,
) {
  await waitFor(`${worker.name} to poll`, timeoutMs, async () => {
    const response = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // WORKFLOW
    });
    return (response.pollers ?? []).some((p) => p.identity?.startsWith(`${worker.pid}@`));
  });
}

async function seedAccountsAndStock(ctx: ChaosContext): Promise<void> {
  const { options, runId } = ctx;
  const { http } = ctx.system;
  const orderCount = Math.round(options.sagas * (1 - options.transferShare));
  const customers = Math.max(4, Math.ceil(options.sagas / 25));
  const skus = Array.from(
    { length: Math.max(3, Math.min(8, Math.ceil(options.sagas / 60))) },
    (_, i) => `sku-${i + 1}`,
  );
  // ~3 units per order; stock a little short of demand so late orders run out.
  const perSku = Math.ceil(((orderCount * 3) / skus.length) * 0.9);
  await mapLimit(
    Array.from({ length: customers }, (_, i) => i),
    4,
    async (i) => {
      await http.post(
        '/accounts',
        { accountId: `c${i}`, ownerId: `owner-${i}`, initialDeposit: DEPOSIT },
        `${runId}/open/c${i}`,
      );
    },
  );
  const restockedSent: Record<string, number> = {};
  await mapLimit(skus, 4, async (sku) => {
    await http.post(`/inventory/${sku}/restock`, { quantity: perSku }, `${runId}/restock/${sku}`);
    restockedSent[sku] = perSku;
  });
  ctx.seeded = { customers, skus, depositsSent: customers * DEPOSIT, restockedSent };
  ctx.note(`seeded ${customers} customer accounts x ${DEPOSIT}, ${skus.length} SKUs x ${perSku}`);
}

export const startupPhase: ChaosPhase = {
  name: 'startup',
  async run(ctx) {
    await waitUntilReady(ctx);
    await seedAccountsAndStock(ctx);
  },
};
