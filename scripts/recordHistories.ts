/**
 * Records one Temporal history per saga path into test/histories/<saga>-<path>.json, for the
 * replay test (test/replay/histories.int.test.ts) to replay against the current workflow code.
 *
 *   npm run record-histories      (npx tsx scripts/recordHistories.ts)
 *
 * Starts its own Temporal dev server (TEMPORAL_CLI_PATH, else `temporal` on PATH) and runs the
 * sagas against a fresh database on DATABASE_URL's server (default: the local Postgres), which
 * it drops afterwards. It overwrites only its own files: after a deliberate, patched change to
 * workflow code, keep older histories (under another name) while sagas that started on the
 * old code may still be running, so the replay test keeps checking them too.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTemporalDevServer } from '../src/infra/temporalDevServer';
import type { SagaResult } from '../workflows/definitions';
import { failWhile, withFaults } from '../test/support/faults';
import { historyToJson } from '../test/replay/historyJson';
import { TEST_DATABASE_URL, TEST_TEMPORAL_ADDRESS } from '../test/support/infrastructure';
import { SagaHarness } from '../test/support/sagaHarness';

const OUT_DIR = path.resolve(__dirname, '../test/histories');
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PRICE = 1_000; // below the approval threshold the harness configures (50,000)

interface SagaPath {
  file: string;
  /** Runs the saga to its end and returns its workflow id. */
  run(h: SagaHarness): Promise<string>;
  expect: Partial<SagaResult> & { reasonPrefix?: string };
}

let inventoryDown = false;

async function order(
  h: SagaHarness,
  orderId: string,
  options: { deposit?: number; stock?: number; quantity?: number; country?: string } = {},
): Promise<string> {
  await h.openAccount(`cust-${orderId}`, options.deposit ?? 1_000_000);
  await h.restock(`sku-${orderId}`, options.stock ?? 100);
  const { sagaId } = await h.placeOrder({
    orderId,
    customerId: `c-${orderId}`,
    paymentAccountId: `cust-${orderId}`,
    items: [{ sku: `sku-${orderId}`, quantity: options.quantity ?? 1, unitPrice: PRICE }],
    country: options.country,
  });
  return sagaId;
}

const LARGE = 60; // 60 x 10.00 is above the approval threshold

const PATHS: SagaPath[] = [
  {
    file: 'orderFulfillment-completed',
    run: (h) => order(h, 'completed'),
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'orderFulfillment-out-of-stock',
    run: (h) => order(h, 'out-of-stock', { stock: 1, quantity: 2 }),
    expect: { outcome: 'CANCELLED', reasonPrefix: 'INSUFFICIENT_STOCK' },
  },
  {
    file: 'orderFulfillment-insufficient-funds',
    run: (h) => order(h, 'insufficient-funds', { deposit: 100 }),
    expect: { outcome: 'CANCELLED', reasonPrefix: 'INSUFFICIENT_FUNDS' },
  },
  {
    file: 'orderFulfillment-unserved-destination',
    run: (h) => order(h, 'unserved', { country: 'KP' }),
    expect: { outcome: 'CANCELLED', reasonPrefix: 'DESTINATION_NOT_SERVED' },
  },
  {
    file: 'orderFulfillment-approval-given',
    async run(h) {
      const sagaId = await order(h, 'approved', { quantity: LARGE });
      await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
      await h.client.workflow.getHandle(sagaId).signal('approve', { approvedBy: 'ops' });
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'orderFulfillment-approval-timed-out',
    run: (h) => order(h, 'approval-timeout', { quantity: LARGE }),
    expect: { outcome: 'CANCELLED', reasonPrefix: 'APPROVAL_TIMED_OUT' },
  },
  {
    file: 'orderFulfillment-cancelled-by-signal',
    async run(h) {
      const sagaId = await order(h, 'cancelled', { quantity: LARGE });
      await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
      await h.client.workflow.getHandle(sagaId).signal('cancel', { reason: 'changed my mind' });
      return sagaId;
    },
    expect: { outcome: 'CANCELLED', reasonPrefix: 'CANCELLED: changed my mind' },
  },
  {
    file: 'orderFulfillment-compensation-failed-then-retried',
    async run(h) {
      inventoryDown = true;
      const sagaId = await order(h, 'compensation-failed', { country: 'KP' });
      await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
      inventoryDown = false;
      await h.client.workflow.getHandle(sagaId).signal('retryCompensation');
      return sagaId;
    },
    expect: { outcome: 'CANCELLED', reasonPrefix: 'DESTINATION_NOT_SERVED' },
  },
  {
    file: 'moneyTransfer-completed',
    async run(h) {
      await h.openAccount('from-completed', 5_000);
      await h.openAccount('to-completed', 0);
      return (await h.startTransfer('completed', 'from-completed', 'to-completed', 1_200)).sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'moneyTransfer-insufficient-funds',
    async run(h) {
      await h.openAccount('from-poor', 100);
      await h.openAccount('to-poor', 0);
      return (await h.startTransfer('insufficient-funds', 'from-poor', 'to-poor', 1_200)).sagaId;
    },
    expect: { outcome: 'FAILED', reasonPrefix: 'INSUFFICIENT_FUNDS' },
  },
  {
    file: 'moneyTransfer-frozen-destination',
    async run(h) {
      await h.openAccount('from-frozen', 5_000);
      await h.openAccount('to-frozen', 0);
      await h.freeze('to-frozen');
      return (await h.startTransfer('frozen', 'from-frozen', 'to-frozen', 700)).sagaId;
    },
    expect: { outcome: 'COMPENSATED', reasonPrefix: 'ACCOUNT_FROZEN' },
  },
];

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startTemporalDevServer({
    cliPath: process.env.TEMPORAL_CLI_PATH,
    ui: false,
  });
  // The harness finds its servers through the variables the jest globalSetup would set.
  process.env[TEST_TEMPORAL_ADDRESS] = server.address;
  process.env[TEST_DATABASE_URL] = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const h = new SagaHarness('record_histories', {
    config: { COMPENSATION_MAX_ATTEMPTS: '2' },
    wrapActivities: (real) =>
      withFaults(real, {
        releaseStock: (fn) =>
          failWhile('releaseStock', fn, {
            match: (input) => input.orderId === 'compensation-failed',
            isFailing: () => inventoryDown,
          }),
      }),
  });
  const written: string[] = [];
  try {
    await h.start();
    await fs.mkdir(OUT_DIR, { recursive: true });
    for (const sagaPath of PATHS) {
      const sagaId = await sagaPath.run(h);
      const result = await h.result(sagaId);
      const { reasonPrefix, ...expected } = sagaPath.expect;
      const matches =
        Object.entries(expected).every(([k, v]) => result[k as keyof SagaResult] === v) &&
        (!reasonPrefix || (result.reason ?? '').startsWith(reasonPrefix));
      if (!matches)
        throw new Error(`${sagaPath.file}: unexpected result ${JSON.stringify(result)}`);
      const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
      const json = JSON.stringify(JSON.parse(historyToJson(history)), null, 2);
      const file = path.join(OUT_DIR, `${sagaPath.file}.json`);
      await fs.writeFile(file, `${json}\n`);
      written.push(file);
      console.log(
        `${path.relative(process.cwd(), file)}  ${result.outcome}  ${history.events?.length ?? 0} events`,
      );
    }
  } finally {
    await h.stop();
    await server.stop();
  }
  console.log(`recorded ${written.length} histories`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
