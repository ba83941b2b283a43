import { randomUUID } from 'node:crypto';
import type { SagaActivities } from '../../activities';
import { temporal } from '@temporalio/proto';
import type { SagaResult } from '../../workflows/definitions';
import { checkAccount, checkInventory, Deferred, holdUntil, withFaults } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // below the harness's approval threshold

/**
 * A second run of a saga that already ran: a reset to an earlier point, or a second start
 * for the same business id (Temporal UI "Start workflow like this one", `temporal workflow
 * start`). Either re-runs every step; none may apply anything twice or move money the first
 * run did not.
 */
describe('second runs of a saga: reset and a second start', () => {
  const revenueHeld = { gate: new Deferred(), entered: new Deferred<number>() };
  const h: SagaHarness = new SagaHarness('second_runs', {
    wrapActivities: (real: SagaActivities): SagaActivities =>
      withFaults(real, {
        creditAccount: (fn) =>
          holdUntil(fn, {
            match: (input) => input.reference === 'order-rerun-running/revenue',
            gate: revenueHeld.gate.promise,
            entered: revenueHeld.entered,
          }),
      }),
  });
  beforeAll(() => h.start());
  afterAll(async () => {
    revenueHeld.gate.resolve();
    await h.stop();
  });

  /** Starts the saga again as the UI or CLI would: same type, id and input, default policies. */
  async function startAgain(
    sagaId: string,
    policies: { workflowIdConflictPolicy?: 'FAIL' | 'TERMINATE_EXISTING' } = {},
    edit: (input: Record<string, unknown>) => Record<string, unknown> = (input) => input,
  ): Promise<string> {
    const first = await h.client.workflow.getHandle(sagaId).fetchHistory();
    const started = first.events?.[0]?.workflowExecutionStartedEventAttributes;
    const handle = await h.client.workflow.start(started!.workflowType!.name!, {
      workflowId: sagaId,
      taskQueue: h.taskQueue,
      args: (started!.input?.payloads ?? []).map((payload: temporal.api.common.v1.IPayload) =>
        edit(h.client.options.loadedDataConverter.payloadConverter.fromPayload(payload)),
      ),
      ...policies,
    });
    return handle.firstExecutionRunId;
  }

  /** What `temporal workflow reset --type FirstWorkflowTask` does. Returns the new run id. */
  async function resetToFirstWorkflowTask(sagaId: string): Promise<string> {
    const handle = h.client.workflow.getHandle(sagaId);
    const history = await handle.fetchHistory();
    const firstTask = history.events?.find(
      (event: temporal.api.history.v1.IHistoryEvent) =>
        event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    );
    const { runId } = await h.client.workflowService.resetWorkflowExecution({
      namespace: h.client.options.namespace,
      workflowExecution: { workflowId: sagaId },
      reason: 'test: reset to the first workflow task',
      workflowTaskFinishEventId: firstTask!.eventId,
      requestId: randomUUID(),
    });
    return runId;
  }

  const resultOfRun = (sagaId: string, runId: string) =>
    h.client.workflow.getHandle(sagaId, runId).result() as Promise<SagaResult>;

  async function placeCompletedOrder(orderId: string) {
    await h.openAccount(`${orderId}-cust`, 10_000);
    await h.restock(`${orderId}-sku`, 5);
    const placed = await h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `${orderId}-cust`,
      items: [{ sku: `${orderId}-sku`, quantity: 2, unitPrice: PRICE }],
    });
    expect((await h.result(placed.sagaId)).outcome).toBe('COMPLETED');
    return placed;
  }

  /** An order cancelled at the pivot (insufficient funds); the customer then tops up. */
  async function placeOrderCancelledAtThePivot(orderId: string) {
    await h.openAccount(`${orderId}-cust`, 500);
    await h.restock(`${orderId}-sku`, 5);
    const placed = await h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `${orderId}-cust`,
      items: [{ sku: `${orderId}-sku`, quantity: 2, unitPrice: PRICE }],
    });
    const first = await h.result(placed.sagaId);
    expect(first.outcome).toBe('CANCELLED');
    expect(first.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    await h.direct.deposit(
      { accountId: `${orderId}-cust`, amount: 10_000, reference: `top-up-${orderId}` },
      { commandId: `top-up/${orderId}` },
    );
    return placed;
  }

  async function expectOrderUntouchedAfterCancel(orderId: string) {
    expect((await checkAccount(h.db.eventStore, `${orderId}-cust`)).balance).toBe(10_500);
    expect(await checkInventory(h.db.eventStore, `${orderId}-sku`)).toMatchObject({
      available: 5,
      reserved: 0,
      committed: 0,
    });
    const orderEvents = await h.eventTypes(`order-${orderId}`);
    expect(orderEvents[orderEvents.length - 1]).toBe('OrderCancelled');
    expect(orderEvents).not.toContain('OrderPaid');
  }

  it('a reset of a completed order re-runs every step and applies none twice', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeCompletedOrder('reset-done');
    const eventsBefore = await h.eventTypes('order-reset-done');

    const runId = await resetToFirstWorkflowTask(sagaId);
    expect((await resultOfRun(sagaId, runId)).outcome).toBe('COMPLETED');

    expect(await h.eventTypes('order-reset-done')).toEqual(eventsBefore);
    expect((await checkAccount(h.db.eventStore, 'reset-done-cust')).balance).toBe(10_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'reset-done-sku')).toMatchObject({
      available: 3,
      reserved: 0,
      committed: 2,
    });
  });

  it('a reset of an order cancelled at the pivot does not charge the customer who since topped up', async () => {
    const { sagaId } = await placeOrderCancelledAtThePivot('reset-cancelled');
    const runId = await resetToFirstWorkflowTask(sagaId);
    const rerun = await resultOfRun(sagaId, runId);
    expect(rerun.outcome).toBe('CANCELLED');
    await expectOrderUntouchedAfterCancel('reset-cancelled');
  });

  it('a reset of a completed transfer moves no money again', async () => {
    await h.openAccount('reset-t-a', 5_000);
    await h.openAccount('reset-t-b', 0);
    const { sagaId } = await h.startTransfer('reset-t', 'reset-t-a', 'reset-t-b', 1_200);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const runId = await resetToFirstWorkflowTask(sagaId);
    expect((await resultOfRun(sagaId, runId)).outcome).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'reset-t-a')).balance).toBe(3_800);
    expect((await checkAccount(h.db.eventStore, 'reset-t-b')).balance).toBe(1_200);
    expect(await h.eventTypes('transfer-reset-t')).toEqual([
      'TransferRequested',
      'TransferDebited',
      'TransferCredited',
      'TransferCompleted',
    ]);
  });

  it('a second start after completion: the API refuses it, the UI/CLI run applies nothing', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeCompletedOrder('again-done');
    // The API's own starter refuses a finished saga and answers with it.
    const viaApi = await h.placeOrder({
      orderId: 'again-done',
      customerId: 'c-again-done',
      paymentAccountId: 'again-done-cust',
      items: [{ sku: 'again-done-sku', quantity: 2, unitPrice: PRICE }],
    });
    expect(viaApi.started).toBe(false);

    const runId = await startAgain(sagaId);
    expect((await resultOfRun(sagaId, runId)).outcome).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'again-done-cust')).balance).toBe(10_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'again-done-sku')).toMatchObject({
      available: 3,
      committed: 2,
    });
  });

  it('a second start of a completed order above the approval threshold parks, moving nothing', async () => {
    await h.openAccount('again-large-cust', 100_000);
    await h.restock('again-large-sku', 100);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'again-large',
      customerId: 'c-again-large',
      paymentAccountId: 'again-large-cust',
      items: [{ sku: 'again-large-sku', quantity: 60, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await h.client.workflow.getHandle(sagaId).signal('approve');
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');

    await startAgain(sagaId);
    // It waits for an approval it does not need, times out, and cannot undo a completed order.
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failureReason).toMatch(/^APPROVAL_TIMED_OUT/);
    expect(await h.eventTypes('order-again-large')).toContain('OrderCompleted');
    expect((await checkAccount(h.db.eventStore, 'again-large-cust')).balance).toBe(100_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'again-large-sku')).toMatchObject({
      available: 40,
      reserved: 0,
      committed: 60,
    });
    await h.client.workflow.getHandle(sagaId).terminate('a second start of a completed order');
  });

  it('a second start with an edited payment account charges no one', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeCompletedOrder('edited');
    await h.openAccount('edited-victim', 10_000);

    // "Start Workflow Like This One", with another customer's account typed into the input.
    await startAgain(sagaId, {}, (input) => ({ ...input, paymentAccountId: 'edited-victim' }));
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    expect((await checkAccount(h.db.eventStore, 'edited-victim')).balance).toBe(10_000);
    expect((await checkAccount(h.db.eventStore, 'edited-cust')).balance).toBe(10_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    await h.client.workflow.getHandle(sagaId).terminate('an edited second start');
  });

  it('a second start with an edited merchant account credits no one', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeCompletedOrder('edited-merchant');
    await h.openAccount('edited-pocket', 0);

    await startAgain(sagaId, {}, (input) => ({ ...input, merchantAccountId: 'edited-pocket' }));
    // The revenue credit is a forward step: refused, it parks the run for an operator.
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    expect((await checkAccount(h.db.eventStore, 'edited-pocket')).balance).toBe(0);
    expect((await checkAccount(h.db.eventStore, 'edited-merchant-cust')).balance).toBe(
      10_000 - total,
    );
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    await h.client.workflow.getHandle(sagaId).terminate('an edited second start');
  });

  it('a second start with an extra line in its input reserves no stock for it', async () => {
    const { sagaId } = await placeCompletedOrder('edited-lines');
    await h.restock('edited-gold', 10);

    await startAgain(sagaId, {}, (input) => ({
      ...input,
      lines: [...(input.lines as unknown[]), { sku: 'edited-gold', quantity: 3, unitPrice: 1 }],
    }));
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    const gold = await checkInventory(h.db.eventStore, 'edited-gold');
    expect(gold).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    expect(gold.events.map((e) => e.type)).not.toContain('StockReserved');
    await h.client.workflow.getHandle(sagaId).terminate('an edited second start');
  });

  it('a second start of an order cancelled at the pivot does not charge the customer', async () => {
    const { sagaId } = await placeOrderCancelledAtThePivot('again-cancelled');
    const runId = await startAgain(sagaId);
    expect((await resultOfRun(sagaId, runId)).outcome).toBe('CANCELLED');
    await expectOrderUntouchedAfterCancel('again-cancelled');
  });

  it('a second start while running is refused, or replaces the run without a second effect', async () => {
    await h.openAccount('rerun-running-cust', 10_000);
    await h.restock('rerun-running-sku', 5);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'rerun-running',
      customerId: 'c-rerun-running',
      paymentAccountId: 'rerun-running-cust',
      items: [{ sku: 'rerun-running-sku', quantity: 1, unitPrice: PRICE }],
    });
    await revenueHeld.entered.promise; // charged; the revenue credit is held
    // The CLI's default conflict policy: refused.
    await expect(startAgain(sagaId)).rejects.toMatchObject({
      name: 'WorkflowExecutionAlreadyStartedError',
    });
    // `--id-conflict-policy TerminateExisting`: the first run dies mid-saga, a new one resumes.
    const runId = await startAgain(sagaId, { workflowIdConflictPolicy: 'TERMINATE_EXISTING' });
    revenueHeld.gate.resolve(); // the dead run's credit attempt now runs too
    expect((await resultOfRun(sagaId, runId)).outcome).toBe('COMPLETED');

    expect((await checkAccount(h.db.eventStore, 'rerun-running-cust')).balance).toBe(
      10_000 - total,
    );
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'rerun-running-sku')).toMatchObject({
      available: 4,
      reserved: 0,
      committed: 1,
    });
    expect(await h.eventTypes('order-rerun-running')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
  });
});
