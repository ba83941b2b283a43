/**
 * Records one Temporal history per saga path into test/histories/<saga>-<path>.json, for the
 * replay test (test/replay/histories.int.test.ts) to replay against the current workflow code.
 *
 *   npm run record-histories      (npx tsx scripts/recordHistories.ts)
 *   npm run record-histories -- <file> ...     (only these paths, e.g. a new one)
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
import { placeOrderAndStartSaga, startOrderSaga } from '../src/application/sagaStarter';
import { shipmentDeliveredSignal } from '../workflows/delivery';
import { orderDecider } from '../src/domain/order';
import { Deferred, failWhile, holdUntil, sleep, withFaults } from '../test/support/faults';
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
/** Order "compensation-early-retry": its release fails while set; its shipment cancel is held. */
let earlyRetryInventoryDown = false;
/** While set, refunding the source of transfer "refund-parked" fails. */
let refundsDown = false;
const earlyRetryReleases = { count: 0 };
const earlyRetryCancel = { gate: new Deferred(), entered: new Deferred<number>() };
/** Steps held until the recording has asked Temporal to cancel the saga (see HELD). */
const held = {
  'order-temporal-cancel-after-pivot/revenue': new Deferred(),
  'transfer-temporal-cancel-before-credit/debit': new Deferred(),
  'transfer-temporal-cancel-during-credit/credit': new Deferred(),
};
const heldEntered = {
  'order-temporal-cancel-after-pivot/revenue': new Deferred<number>(),
  'transfer-temporal-cancel-before-credit/debit': new Deferred<number>(),
  'transfer-temporal-cancel-during-credit/credit': new Deferred<number>(),
};
type HeldReference = keyof typeof held;
const holdMoney = <I extends { reference: string }, O>(fn: (input: I) => Promise<O>) =>
  (Object.keys(held) as HeldReference[]).reduce(
    (inner, reference) =>
      holdUntil(inner, {
        match: (input) => input.reference === reference,
        gate: held[reference].promise,
        entered: heldEntered[reference],
      }),
    fn,
  );

/** Asks Temporal to cancel a saga while one of its steps is held, then lets the step go. */
async function cancelWhileHeld(h: SagaHarness, sagaId: string, reference: HeldReference) {
  await heldEntered[reference].promise;
  // The request is in the history before the step's completion, whenever the worker sees it.
  await h.client.workflow.getHandle(sagaId).cancel();
  held[reference].resolve();
}

/**
 * An order whose saga credits a merchant account that is opened only once the saga parked
 * (ACCOUNT_NOT_FOUND on the forward step "credit revenue"), then resumed with retryStep.
 */
async function orderParkedOnForwardStep(h: SagaHarness, orderId: string): Promise<string> {
  const merchant = `merchant-${orderId}`;
  await h.openAccount(`cust-${orderId}`, 1_000_000);
  await h.restock(`sku-${orderId}`, 100);
  const items = [{ sku: `sku-${orderId}`, quantity: 1, unitPrice: PRICE }];
  await h.commands.handle(
    orderDecider,
    orderId,
    {
      type: 'PlaceOrder',
      data: {
        orderId,
        customerId: `c-${orderId}`,
        paymentAccountId: `cust-${orderId}`,
        items,
        shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
      },
      metadata: { now: new Date().toISOString() },
    },
    { commandId: `place-order/${orderId}` },
  );
  const { sagaId } = await startOrderSaga(
    { ...h.starterDeps, config: { ...h.config, MERCHANT_ACCOUNT_ID: merchant } },
    {
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `cust-${orderId}`,
      items,
      correlationId: `corr-${orderId}`,
    },
  );
  await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
  await h.openAccount(merchant, 0);
  await h.client.workflow.getHandle(sagaId).signal('retryStep');
  return sagaId;
}

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

/** Runs a path with SAGA_LOCAL_ACTIVITIES=on: its saga takes the local-activity-steps patch. */
function onLocalActivities(run: (h: SagaHarness) => Promise<string>) {
  return async (h: SagaHarness) => {
    const config = h.config;
    h.config = { ...config, SAGA_LOCAL_ACTIVITIES: 'on' };
    try {
      return await run(h);
    } finally {
      h.config = config;
    }
  };
}

const LARGE = 60; // 60 x 10.00 is above the approval threshold

/** An order whose saga waits for the carrier's delivery confirmation (DELIVERY_CONFIRMATION=carrier). */
async function orderAwaitingDelivery(h: SagaHarness, orderId: string): Promise<string> {
  await h.openAccount(`cust-${orderId}`, 1_000_000);
  await h.restock(`sku-${orderId}`, 100);
  const { sagaId } = await placeOrderAndStartSaga(
    {
      ...h.starterDeps,
      config: { ...h.config, DELIVERY_CONFIRMATION: 'carrier', DELIVERY_TIMEOUT: '2s' },
    },
    {
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `cust-${orderId}`,
      items: [{ sku: `sku-${orderId}`, quantity: 1, unitPrice: PRICE }],
      shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
      correlationId: `corr-${orderId}`,
    },
  );
  return sagaId;
}

const confirmDelivery = (h: SagaHarness, sagaId: string) =>
  h.client.workflow.getHandle(sagaId).signal(shipmentDeliveredSignal, {
    messageId: `delivered-${sagaId}`,
    shipmentId: null,
    deliveredAt: '2026-01-01T00:00:00.000Z',
  });

const PATHS: SagaPath[] = [
  {
    file: 'orderFulfillment-completed-on-local-activities',
    run: onLocalActivities((h) => order(h, 'completed-local')),
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'orderFulfillment-out-of-stock-on-local-activities',
    run: onLocalActivities((h) => order(h, 'out-of-stock-local', { stock: 1, quantity: 2 })),
    expect: { outcome: 'CANCELLED', reasonPrefix: 'INSUFFICIENT_STOCK' },
  },
  {
    file: 'moneyTransfer-completed-on-local-activities',
    run: onLocalActivities(async (h) => {
      await h.openAccount('from-completed-local', 5_000);
      await h.openAccount('to-completed-local', 0);
      return (
        await h.startTransfer(
          'completed-local',
          'from-completed-local',
          'to-completed-local',
          1_200,
        )
      ).sagaId;
    }),
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'moneyTransfer-frozen-destination-on-local-activities',
    run: onLocalActivities(async (h) => {
      await h.openAccount('from-frozen-local', 5_000);
      await h.openAccount('to-frozen-local', 0);
      await h.freeze('to-frozen-local');
      return (await h.startTransfer('frozen-local', 'from-frozen-local', 'to-frozen-local', 700))
        .sagaId;
    }),
    expect: { outcome: 'COMPENSATED', reasonPrefix: 'ACCOUNT_FROZEN' },
  },
  {
    // The carrier's confirmation comes while the saga waits for it, twice (a duplicate).
    file: 'orderFulfillment-delivered',
    async run(h) {
      const sagaId = await orderAwaitingDelivery(h, 'delivered');
      await h.waitForStatus(sagaId, (s) => s.status === 'DISPATCHED' && s.currentStep === null);
      await confirmDelivery(h, sagaId);
      await confirmDelivery(h, sagaId);
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
  {
    // The confirmation comes before the saga waits for it (buffered).
    file: 'orderFulfillment-delivered-before-wait',
    async run(h) {
      const sagaId = await orderAwaitingDelivery(h, 'delivered-early');
      await confirmDelivery(h, sagaId);
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
  {
    // No confirmation within DELIVERY_TIMEOUT: flagged DELIVERY_OVERDUE, then a late one.
    file: 'orderFulfillment-delivery-overdue-then-delivered',
    async run(h) {
      const sagaId = await orderAwaitingDelivery(h, 'delivery-overdue');
      await h.waitForStatus(sagaId, (s) => s.status === 'DELIVERY_OVERDUE');
      await confirmDelivery(h, sagaId);
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
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
      await h.client.workflow
        .getHandle(sagaId)
        .signal('cancel', { reasonCode: 'CUSTOMER_REQUEST', requestedBy: 'key-ops' });
      return sagaId;
    },
    expect: { outcome: 'CANCELLED', reasonPrefix: 'CANCELLED: CUSTOMER_REQUEST by key-ops' },
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
    // A retryCompensation sent while compensating, before any park: since the
    // retry-compensation-only-when-parked patch it arms nothing, so the saga parks once and
    // waits for the operator's second signal (before it: parked, resumed at once, parked again).
    file: 'orderFulfillment-compensation-early-retry-signal',
    async run(h) {
      earlyRetryInventoryDown = true;
      const sagaId = await order(h, 'compensation-early-retry', { country: 'KP' });
      const handle = h.client.workflow.getHandle(sagaId);
      await earlyRetryCancel.entered.promise;
      await handle.signal('retryCompensation');
      earlyRetryCancel.gate.resolve();
      await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
      // Until the release attempts stop: parked for good, whichever code recorded it.
      for (let seen = -1; seen !== earlyRetryReleases.count; await sleep(2_000))
        seen = earlyRetryReleases.count;
      earlyRetryInventoryDown = false;
      await handle.signal('retryCompensation');
      return sagaId;
    },
    expect: { outcome: 'CANCELLED', reasonPrefix: 'DESTINATION_NOT_SERVED' },
  },
  {
    file: 'orderFulfillment-forward-step-parked-then-retried',
    run: (h) => orderParkedOnForwardStep(h, 'forward-step-parked'),
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'orderFulfillment-temporal-cancel-before-pivot',
    async run(h) {
      const sagaId = await order(h, 'temporal-cancel-before-pivot', { quantity: LARGE });
      await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
      await h.client.workflow.getHandle(sagaId).cancel();
      return sagaId;
    },
    expect: { outcome: 'CANCELLED', reasonPrefix: 'CANCELLED: TEMPORAL_CANCELLATION' },
  },
  {
    file: 'orderFulfillment-temporal-cancel-after-pivot',
    async run(h) {
      const sagaId = await order(h, 'temporal-cancel-after-pivot');
      await cancelWhileHeld(h, sagaId, 'order-temporal-cancel-after-pivot/revenue');
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
  },
  {
    file: 'moneyTransfer-temporal-cancel-before-credit',
    async run(h) {
      await h.openAccount('from-cancel-before', 5_000);
      await h.openAccount('to-cancel-before', 0);
      const transferId = 'temporal-cancel-before-credit';
      const { sagaId } = await h.startTransfer(
        transferId,
        'from-cancel-before',
        'to-cancel-before',
        900,
      );
      await cancelWhileHeld(h, sagaId, 'transfer-temporal-cancel-before-credit/debit');
      return sagaId;
    },
    expect: { outcome: 'COMPENSATED', reasonPrefix: 'CANCELLED: TEMPORAL_CANCELLATION' },
  },
  {
    file: 'moneyTransfer-temporal-cancel-during-credit',
    async run(h) {
      await h.openAccount('from-cancel-during', 5_000);
      await h.openAccount('to-cancel-during', 0);
      const transferId = 'temporal-cancel-during-credit';
      const { sagaId } = await h.startTransfer(
        transferId,
        'from-cancel-during',
        'to-cancel-during',
        900,
      );
      await cancelWhileHeld(h, sagaId, 'transfer-temporal-cancel-during-credit/credit');
      return sagaId;
    },
    expect: { outcome: 'COMPLETED' },
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
    // The debit is rejected; its compensation (void the debit) fails until retryCompensation.
    file: 'moneyTransfer-refund-parked-then-retried',
    async run(h) {
      await h.openAccount('from-refund-parked', 100);
      await h.openAccount('to-refund-parked', 0);
      refundsDown = true;
      const { sagaId } = await h.startTransfer(
        'refund-parked',
        'from-refund-parked',
        'to-refund-parked',
        1_200,
      );
      await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
      refundsDown = false;
      await h.client.workflow.getHandle(sagaId).signal('retryCompensation');
      return sagaId;
    },
    expect: { outcome: 'COMPENSATED', reasonPrefix: 'INSUFFICIENT_FUNDS' },
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
          failWhile(
            'releaseStock',
            failWhile('releaseStock', fn, {
              match: (input) => input.orderId === 'compensation-early-retry',
              isFailing: () => earlyRetryInventoryDown,
              calls: earlyRetryReleases,
            }),
            {
              match: (input) => input.orderId === 'compensation-failed',
              isFailing: () => inventoryDown,
            },
          ),
        cancelShipment: (fn) =>
          holdUntil(fn, {
            match: (input) => input.orderId === 'compensation-early-retry',
            gate: earlyRetryCancel.gate.promise,
            entered: earlyRetryCancel.entered,
          }),
        refundDebit: (fn) =>
          failWhile('refundDebit', fn, {
            match: (input) => input.debitReference === 'transfer-refund-parked/debit',
            isFailing: () => refundsDown,
          }),
        debitAccount: holdMoney,
        creditAccount: holdMoney,
      }),
  });
  const written: string[] = [];
  try {
    await h.start();
    await fs.mkdir(OUT_DIR, { recursive: true });
    const only = process.argv.slice(2);
    for (const sagaPath of PATHS.filter((p) => only.length === 0 || only.includes(p.file))) {
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
    for (const gate of Object.values(held)) gate.resolve();
    earlyRetryCancel.gate.resolve();
    await h.stop();
    await server.stop();
  }
  console.log(`recorded ${written.length} histories`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
