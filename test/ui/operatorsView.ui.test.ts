import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { orderSagaId } from '../../src/sagas/sagaIds';
import {
  eventually,
  openAccount,
  orderSaga,
  orderStatus,
  placeOrder,
  restock,
} from './support/api';
import { runDemo, sql, startSystem, UI_URL, type RunningSystem } from './support/system';
import {
  expectListShows,
  frameShowing,
  launchBrowser,
  openTab,
  runQuery,
  screenshot,
  sendSignal,
  workflowUrl,
} from './support/temporalUi';

/**
 * The operators' view, proven in a real browser: the whole system (npm start) and the demo,
 * then the Temporal Web UI in headless Chromium. Filtering by SagaStatus, a saga's summary
 * and current details, its `status` query, an `approve` and a `retryCompensation` signal
 * sent from the UI's dialog. Screenshots land in test-results/screenshots (docs/screenshots, for the README's Temporal UI tour, with UPDATE_SCREENSHOTS=1).
 * The steps build on each other and run in order.
 */

const run = randomBytes(3).toString('hex');
const customer = `ui-${run}`;
const parkedCustomer = `ui-${run}-parked`;
const sku = `ui-${run}-widget`;

let system: RunningSystem;
let browser: Browser;
let page: Page;
/** Two orders over the approval threshold, both parked in AWAITING_APPROVAL. */
let awaiting: [string, string];
/** An order whose releaseStock compensation keeps failing: parked in COMPENSATION_FAILED. */
let parked: string;

beforeAll(async () => {
  system = await startSystem();
  try {
    const demo = await runDemo();
    expect(demo).toContain('Where to look');

    const rich = await openAccount(`${customer}-rich`, 10_000_00);
    const poor = await openAccount(`${customer}-poor`, 1_00);
    await restock(sku, 100);
    // 10 × 120.00 = 1200.00, over the default approval threshold of 1000.00.
    const big = { customerId: customer, paymentAccountId: rich, sku, quantity: 10 };
    awaiting = [
      await placeOrder({ ...big, unitPrice: 120_00 }),
      await placeOrder({ ...big, unitPrice: 110_00 }),
    ];
    for (const orderId of awaiting) {
      await eventually(
        `order ${orderId} awaiting approval`,
        () => orderStatus(orderId),
        (s) => s === 'AWAITING_APPROVAL',
      );
    }

    // Arm the fault before the order exists (its id is not known yet); nothing else
    // compensates meanwhile. Once the id is known the fault is narrowed to its saga.
    await sql(
      system.databaseUrl,
      `INSERT INTO fault_injections (activity, mode, workflow_match, remaining)
       VALUES ('releaseStock', 'fail', $1, NULL)`,
      [`order-`],
    );
    parked = await placeOrder({
      customerId: parkedCustomer,
      paymentAccountId: poor, // 1.00 cannot pay 50.00: INSUFFICIENT_FUNDS, then compensations
      sku,
      quantity: 1,
      unitPrice: 50_00,
    });
    await sql(system.databaseUrl, `UPDATE fault_injections SET workflow_match = $1`, [parked]);
    await eventually(
      `order ${parked} parked`,
      () => orderSaga(parked),
      (saga) => saga.status === 'COMPENSATION_FAILED',
    );

    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(30_000);
  } catch (error) {
    console.error(`Sagaflow log:\n${system.log().slice(-6000)}`);
    throw error;
  }
}, 600_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await system?.stop();
}, 120_000);

test('the workflow list shows the demo sagas', async () => {
  await page.goto(`${UI_URL}/namespaces/default/workflows`);
  await page
    .getByRole('link', { name: /^order-/ })
    .first()
    .waitFor();
  await page
    .getByRole('link', { name: /^transfer-/ })
    .first()
    .waitFor();
  await screenshot(page, '01-workflow-list.png');
});

test('filtering by SagaStatus lists exactly the sagas awaiting approval', async () => {
  const query = `CustomerId="${customer}" AND SagaStatus="AWAITING_APPROVAL"`;
  const shown = await expectListShows(page, query, awaiting.map(orderSagaId));
  expect(shown).toEqual(awaiting.map(orderSagaId).sort());
  // The filter shows as chips the operator can edit.
  await page.getByText('SagaStatus = "AWAITING_APPROVAL"').first().waitFor();
  await screenshot(page, '02-filtered-awaiting-approval.png');
});

test("a saga's page shows its summary and current details", async () => {
  const [orderId] = awaiting;
  await page.goto(workflowUrl(orderSagaId(orderId)));
  await openTab(page, 'User Metadata');
  await page.getByRole('heading', { name: 'Summary' }).waitFor();
  const summary = await frameShowing(page, `Order ${orderId.slice(0, 8)}`);
  expect(await summary.locator('body').innerText()).toContain(
    `Order ${orderId.slice(0, 8)}… · 1 line · 1200.00 · customer ${customer}`,
  );
  const details = await frameShowing(page, 'Current step');
  const text = await details.locator('body').innerText();
  expect(text).toContain('status AWAITING_APPROVAL');
  expect(text).toContain('Current step: —');
  expect(text).toMatch(/Steps done: reserve stock .* → request approval/);
  expect(text).toContain('Compensations registered: release stock');
  await screenshot(page, '03-saga-summary-and-details.png');
});

test('the status query from the Queries tab returns the current step', async () => {
  const [orderId] = awaiting;
  await page.goto(workflowUrl(orderSagaId(orderId)));
  const shown = await runQuery(page, 'status');
  expect(shown).toMatchObject({
    sagaType: 'orderFulfillment',
    businessId: orderId,
    status: 'AWAITING_APPROVAL',
    outcome: 'RUNNING',
    currentStep: null,
  });
  const steps = shown.completedSteps as string[];
  expect(steps[steps.length - 1]).toBe('request approval');
  // The same view the API serves.
  const api = await orderSaga(orderId);
  expect(shown.completedSteps).toEqual(api.completedSteps);
  await screenshot(page, '04-status-query.png');
});

test('approve sent from the signal dialog completes the order', async () => {
  const [orderId, other] = awaiting;
  await page.goto(workflowUrl(orderSagaId(orderId)));
  await sendSignal(page, 'approve', { approvedBy: 'ui-tour' }, () =>
    screenshot(page, '05-signal-approve.png'),
  );
  await eventually(
    `order ${orderId} completed`,
    () => orderStatus(orderId),
    (s) => s === 'COMPLETED',
  );
  await page.goto(workflowUrl(orderSagaId(orderId)));
  // The status badge (CSS shows it upper-case).
  await page
    .getByText(/^completed$/i)
    .first()
    .waitFor();
  await screenshot(page, '06-approved-order.png');
  // Only the other order still waits.
  const shown = await expectListShows(
    page,
    `CustomerId="${customer}" AND SagaStatus="AWAITING_APPROVAL"`,
    [orderSagaId(other)],
  );
  expect(shown).toEqual([orderSagaId(other)]);
  expect(await orderStatus(other)).toBe('AWAITING_APPROVAL');
});

test('retryCompensation sent from the UI ends a parked saga', async () => {
  const shownParked = await expectListShows(
    page,
    `CustomerId="${parkedCustomer}" AND SagaStatus="COMPENSATION_FAILED"`,
    [orderSagaId(parked)],
  );
  expect(shownParked).toEqual([orderSagaId(parked)]);

  await page.goto(workflowUrl(orderSagaId(parked)));
  await openTab(page, 'User Metadata');
  const details = await frameShowing(page, 'Compensation failing');
  const text = await details.locator('body').innerText();
  expect(text).toContain('status COMPENSATION_FAILED');
  expect(text).toMatch(/Compensation failing: release stock/);
  await screenshot(page, '07-parked-saga.png');

  // Fix the cause, then tell the saga to try again.
  await sql(system.databaseUrl, 'DELETE FROM fault_injections');
  await sendSignal(page, 'retryCompensation', undefined, () =>
    screenshot(page, '08-signal-retry-compensation.png'),
  );
  // The status query says CANCELLED a moment before the run closes: wait for the close,
  // then check what it ended as.
  const saga = await eventually(
    `order ${parked} closed`,
    () => orderSaga(parked),
    (s) => s.workflowStatus !== 'RUNNING',
  );
  expect(saga.workflowStatus).toBe('COMPLETED');
  expect(saga.status).toBe('CANCELLED');
  expect(await orderStatus(parked)).toBe('CANCELLED');

  const shownCancelled = await expectListShows(
    page,
    `CustomerId="${parkedCustomer}" AND SagaStatus="CANCELLED"`,
    [orderSagaId(parked)],
  );
  expect(shownCancelled).toEqual([orderSagaId(parked)]);
  await expectListShows(
    page,
    `CustomerId="${parkedCustomer}" AND SagaStatus="COMPENSATION_FAILED"`,
    [],
  ).then((shown) => expect(shown).toEqual([]));

  await page.goto(workflowUrl(orderSagaId(parked)));
  await openTab(page, 'User Metadata');
  const after = await (await frameShowing(page, 'status CANCELLED')).locator('body').innerText();
  expect(after).toContain(
    `Compensations run: refund payment, cancel shipment, release stock ${sku}`,
  );
  await screenshot(page, '09-after-retry.png');
});
