import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { SagaActivities } from '../../activities';
import { asActivity } from '../../activities/sagaActivityContext';
import { AbandonedSagaReconciler } from '../../src/application/abandonedSagaReconciler';
import { DomainRejection } from '../../src/domain/decider';
import type { SagaResult } from '../../workflows/definitions';
import { checkAccount, checkInventory, withFaults } from '../support/faults';
import { SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // the harness's approval threshold is 50,000

/**
 * The guard against runs that would undo or finish an order the aggregates do not let them:
 * a refund of a kept payment, a compensation of a paid order (a reset re-applying a refused
 * cancel), a charge of an unapproved order (an edited `approvalThreshold`), a completion with
 * a line's stock still reserved (an edited `lines`).
 */
describe('the guard keeps paid orders paid and unapproved orders uncharged', () => {
  /** References whose revenue credit the merchant's account refuses, while listed. */
  const refusedRevenue = new Set<string>();
  const h: SagaHarness = new SagaHarness('past_pivot', {
    config: { APPROVAL_TIMEOUT: '120s', COMPENSATION_MAX_ATTEMPTS: '2' },
    wrapActivities: (real: SagaActivities): SagaActivities =>
      withFaults(real, {
        creditAccount: (fn) => (input) =>
          refusedRevenue.has(input.reference)
            ? asActivity(() => {
                throw new DomainRejection('ACCOUNT_FROZEN', `test: ${input.reference} refused`);
              })
            : fn(input),
      }),
  });
  let reconciler: AbandonedSagaReconciler;
  beforeAll(async () => {
    await h.start();
    reconciler = new AbandonedSagaReconciler(
      {
        client: h.client,
        commands: h.commands,
        eventStore: h.db.eventStore,
        taskQueue: h.taskQueue,
      },
      { graceSeconds: 0 },
    );
  });
  afterAll(() => h.stop());

  const terminate = (sagaId: string) =>
    h.client.workflow.getHandle(sagaId).terminate('operator clicked Terminate');

  /** The input the saga's latest run started with. */
  async function inputOf(sagaId: string): Promise<Record<string, unknown>> {
    const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
    const payload =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    return h.client.options.loadedDataConverter.payloadConverter.fromPayload(payload!);
  }

  /** "Start Workflow Like This One" (default policies) with the given input. */
  async function startWith(sagaId: string, input: Record<string, unknown>): Promise<string> {
    const handle = await h.client.workflow.start('orderFulfillment', {
      workflowId: sagaId,
      taskQueue: h.taskQueue,
      args: [input],
    });
    return handle.firstExecutionRunId;
  }

  /** What `temporal workflow reset --type FirstWorkflowTask` does (signals are re-applied). */
  async function resetToFirstWorkflowTask(sagaId: string): Promise<string> {
    const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
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

  async function reconcileUntilResumed(sagaId: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = (await reconciler.reconcileOnce()).find((saga) => saga.sagaId === sagaId);
      if (found) {
        expect(found.action).toBe('resumed');
        return;
      }
      if (Date.now() > deadline) throw new Error(`${sagaId}: the reconciler never found it`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function placeOrder(orderId: string, lines: { sku: string; quantity: number }[]) {
    await h.openAccount(`${orderId}-cust`, 100_000);
    for (const line of lines) await h.restock(line.sku, 100);
    return h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `${orderId}-cust`,
      items: lines.map((line) => ({ ...line, unitPrice: PRICE })),
    });
  }

  it('a reset that re-applies a refused cancel releases nothing; terminate + reconciler complete it', async () => {
    refusedRevenue.add('order-pp-cancel/revenue');
    const { sagaId, total } = await placeOrder('pp-cancel', [
      { sku: 'pp-cancel-sku', quantity: 2 },
    ]);
    await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
    await h.client.workflow.getHandle(sagaId).signal('cancel', { reason: 'changed my mind' });
    await h.waitForStatus(sagaId, (s) => s.cancelRefusedReason !== null);

    // The new run sees the cancel before its pivot flag is set: it aborts and unwinds.
    await resetToFirstWorkflowTask(sagaId);
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failingCompensation).toMatch(/^release stock/);
    expect(await checkInventory(h.db.eventStore, 'pp-cancel-sku')).toMatchObject({
      available: 98,
      reserved: 2,
      committed: 0,
    });
    expect(await h.eventTypes('inventory-pp-cancel-sku')).not.toContain('ReservationReleased');
    expect(await h.eventTypes('shipment-pp-cancel')).not.toContain('ShipmentCancelled');

    // The operator terminates the parked run; the reconciler resumes the charged order.
    refusedRevenue.delete('order-pp-cancel/revenue');
    await terminate(sagaId);
    await reconcileUntilResumed(sagaId);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(await checkInventory(h.db.eventStore, 'pp-cancel-sku')).toMatchObject({
      available: 98,
      reserved: 0,
      committed: 2,
    });
    expect((await checkAccount(h.db.eventStore, 'pp-cancel-cust')).balance).toBe(100_000 - total);
    expect(await h.eventTypes('shipment-pp-cancel')).toEqual([
      'ShipmentBooked',
      'ShipmentDispatched',
    ]);
  });

  it('an edited second start of a completed order refunds nothing, nor does any refund of it', async () => {
    const { sagaId, total } = await placeOrder('pp-refund', [
      { sku: 'pp-refund-sku', quantity: 1 },
    ]);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');

    await startWith(sagaId, { ...(await inputOf(sagaId)), total: 40_000 });
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    expect(parked.failingCompensation).toBe('refund payment');
    await terminate(sagaId);

    // Even a refund of exactly what was charged, on the right account: the payment stays taken.
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: sagaId, runId: 'another-run' },
    });
    const refund = (accountId: string) =>
      env.run(() =>
        h.parts.activities.refundDebit({
          accountId,
          amount: total,
          debitReference: 'order-pp-refund/payment',
          refundReference: 'order-pp-refund/refund',
        }),
      );
    await expect(refund('pp-refund-cust')).rejects.toThrow(/COMPLETED, its payment stays taken/);
    await expect(refund(`${sagaId}-elsewhere`)).rejects.toThrow(/is not the account/);
    expect((await checkAccount(h.db.eventStore, 'pp-refund-cust')).balance).toBe(100_000 - total);
  });

  it('terminate + start with an edited approvalThreshold charges no unapproved order', async () => {
    const { sagaId } = await placeOrder('pp-approval', [{ sku: 'pp-approval-sku', quantity: 60 }]);
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await terminate(sagaId);

    const runId = await startWith(sagaId, {
      ...(await inputOf(sagaId)),
      approvalThreshold: 10_000_000,
    });
    const rerun = (await h.client.workflow.getHandle(sagaId, runId).result()) as SagaResult;
    expect(rerun.outcome).toBe('CANCELLED');
    expect((await h.status(sagaId)).failureReason).toMatch(/^SAGA_INPUT_MISMATCH.*approval/);
    expect((await checkAccount(h.db.eventStore, 'pp-approval-cust')).balance).toBe(100_000);
    expect(await h.eventTypes('order-pp-approval')).not.toContain('OrderPaid');
    expect(await checkInventory(h.db.eventStore, 'pp-approval-sku')).toMatchObject({
      available: 100,
      reserved: 0,
    });
  });

  it('a restart with fewer lines parks before dispatch; a run with the stored lines completes it', async () => {
    refusedRevenue.add('order-pp-lines/revenue');
    const { sagaId } = await placeOrder('pp-lines', [
      { sku: 'pp-lines-a', quantity: 1 },
      { sku: 'pp-lines-b', quantity: 2 },
    ]);
    await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
    const stored = await inputOf(sagaId);
    await terminate(sagaId);
    refusedRevenue.delete('order-pp-lines/revenue');

    await startWith(sagaId, { ...stored, lines: (stored.lines as unknown[]).slice(0, 1) });
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
    expect(parked.failingStep).toBe('mark dispatched');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH.*pp-lines-b/);
    expect(await h.eventTypes('order-pp-lines')).not.toContain('OrderCompleted');
    expect(await checkInventory(h.db.eventStore, 'pp-lines-b')).toMatchObject({ reserved: 2 });

    await terminate(sagaId);
    const runId = await startWith(sagaId, stored);
    const rerun = (await h.client.workflow.getHandle(sagaId, runId).result()) as SagaResult;
    expect(rerun.outcome).toBe('COMPLETED');
    expect(await checkInventory(h.db.eventStore, 'pp-lines-b')).toMatchObject({
      reserved: 0,
      committed: 2,
    });
  });
});
