import { orderDecider } from '../../src/domain/order';
import { sagaSettingsFrom } from '../../src/sagas/sagaSettings';
import type { OrderFulfillmentInput, SagaStatusView } from '../../workflows/definitions';
import { transferDecider } from '../../src/domain/transfer';
import { checkAccount, checkInventory, Deferred, holdUntil, withFaults } from '../support/faults';
import { SagaHarness } from '../support/sagaHarness';

const PRICE = 100;
/** Opened only by the test below: crediting it before fails with ACCOUNT_NOT_FOUND. */
const LATE_MERCHANT = 'merchant-opened-late';

/**
 * After the pivot a saga only moves forward; a forward step that the domain rejects cannot
 * succeed by retrying. It must park the saga where operators see it (status, search
 * attribute, details), never fail it half-done or loop, and resume on `retryStep`.
 */
describe('a business rejection on a forward step after the pivot', () => {
  /** Holds the debit of transfer "fwd-transfer" while the test moves its aggregate on. */
  const debitHeld = { gate: new Deferred(), entered: new Deferred<number>() };
  /** The same for transfer "fwd-early", whose "mark debited" attempts are counted. */
  const earlyDebitHeld = { gate: new Deferred(), entered: new Deferred<number>() };
  const earlyMarkDebited = { count: 0 };
  const h = new SagaHarness('forward_park', {
    config: { MERCHANT_ACCOUNT_ID: LATE_MERCHANT },
    wrapActivities: (real) =>
      withFaults(real, {
        debitAccount: (fn) =>
          holdUntil(
            holdUntil(fn, {
              match: (input) => input.reference === 'transfer-fwd-early/debit',
              gate: earlyDebitHeld.gate.promise,
              entered: earlyDebitHeld.entered,
            }),
            {
              match: (input) => input.reference === 'transfer-fwd-transfer/debit',
              gate: debitHeld.gate.promise,
              entered: debitHeld.entered,
            },
          ),
        applyTransferCommand: (fn) => (input) => {
          if (input.transferId === 'fwd-early' && input.command.type === 'MarkTransferDebited')
            earlyMarkDebited.count += 1;
          return fn(input);
        },
      }),
  });
  beforeAll(() => h.start());
  afterAll(async () => {
    debitHeld.gate.resolve();
    earlyDebitHeld.gate.resolve();
    await h.stop();
  });

  const parked = (s: SagaStatusView) => s.status === 'FORWARD_STEP_FAILED';
  const sagaStatusAttribute = async (sagaId: string, expected: string) =>
    (await h.searchAttributes(sagaId, (a) => a.SagaStatus === expected)).SagaStatus;
  const workflowStatus = async (sagaId: string) =>
    (await h.client.workflow.getHandle(sagaId).describe()).status.name;

  it('parks in FORWARD_STEP_FAILED with the step and reason, then finishes on retryStep', async () => {
    await h.openAccount('fwd-cust', 10_000);
    await h.restock('fwd-sku', 10);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'fwd',
      customerId: 'c-fwd',
      paymentAccountId: 'fwd-cust',
      items: [{ sku: 'fwd-sku', quantity: 2, unitPrice: PRICE }],
    });

    const status = await h.waitForStatus(sagaId, parked);
    expect(status).toMatchObject<Partial<SagaStatusView>>({
      outcome: 'FORWARD_STEP_FAILED',
      failingStep: 'credit revenue',
    });
    expect(status.failureReason).toMatch(/^ACCOUNT_NOT_FOUND/);
    expect(await sagaStatusAttribute(sagaId, 'FORWARD_STEP_FAILED')).toBe('FORWARD_STEP_FAILED');
    // Parked means parked: still running, the customer charged, nothing undone.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await workflowStatus(sagaId)).toBe('RUNNING');
    expect((await h.status(sagaId)).status).toBe('FORWARD_STEP_FAILED');
    expect((await checkAccount(h.db.eventStore, 'fwd-cust')).balance).toBe(10_000 - total);

    // The operator fixes the cause and asks for another try.
    await h.openAccount(LATE_MERCHANT, 0);
    await h.client.workflow.getHandle(sagaId).signal('retryStep');
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect(await h.status(sagaId)).toMatchObject({ failingStep: null });
    expect((await checkAccount(h.db.eventStore, LATE_MERCHANT)).balance).toBe(total);
    expect(await checkInventory(h.db.eventStore, 'fwd-sku')).toMatchObject({
      available: 8,
      reserved: 0,
      committed: 2,
    });
    expect(await h.eventTypes('order-fwd')).toContain('OrderCompleted');
  });

  // A saga whose total is not the stored order's (what starting from the request did) used
  // to charge the wrong total, then park at MarkPaid (INVALID_AMOUNT). The worker's guard
  // refuses that charge before it happens: the pivot fails and the order is cancelled with
  // nothing charged, so MarkPaid's rejection is no longer reachable this way.
  it("a saga whose total is not the order's is refused at the charge: cancelled, nothing charged", async () => {
    await h.openAccount('wrong-total-cust', 10_000);
    await h.restock('wrong-total-sku', 10);
    const items = [{ sku: 'wrong-total-sku', quantity: 1, unitPrice: PRICE }];
    await h.commands.handle(
      orderDecider,
      'wrong-total',
      {
        type: 'PlaceOrder',
        data: {
          orderId: 'wrong-total',
          customerId: 'c-wrong',
          paymentAccountId: 'wrong-total-cust',
          items,
          shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
        },
        metadata: { now: new Date().toISOString() },
      },
      { commandId: 'place-order/wrong-total' },
    );
    const input: OrderFulfillmentInput = {
      orderId: 'wrong-total',
      customerId: 'c-wrong',
      paymentAccountId: 'wrong-total-cust',
      lines: items,
      total: 999,
      correlationId: 'corr-wrong-total',
      merchantAccountId: LATE_MERCHANT,
      approvalThreshold: h.config.APPROVAL_THRESHOLD,
      approvalTimeout: h.config.APPROVAL_TIMEOUT,
      settings: sagaSettingsFrom(h.config),
    };
    const handle = await h.client.workflow.start('orderFulfillment', {
      workflowId: 'order-wrong-total',
      taskQueue: h.taskQueue,
      args: [input],
    });

    expect(await h.result(handle.workflowId)).toMatchObject({ outcome: 'CANCELLED' });
    expect((await h.status(handle.workflowId)).failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    expect((await checkAccount(h.db.eventStore, 'wrong-total-cust')).balance).toBe(10_000);
    expect(await checkInventory(h.db.eventStore, 'wrong-total-sku')).toMatchObject({
      available: 10,
      reserved: 0,
      committed: 0,
    });
    expect(await h.eventTypes('order-wrong-total')).not.toContain('OrderPaid');
  });

  it('a transfer whose forward step is rejected parks the same way (not failed half-done)', async () => {
    await h.openAccount('fwd-src', 5_000);
    await h.openAccount('fwd-dst', 0);
    const { sagaId } = await h.startTransfer('fwd-transfer', 'fwd-src', 'fwd-dst', 1_000);
    await debitHeld.entered.promise;
    // Someone else moves the transfer on while the debit runs: "mark debited" is then illegal.
    await h.commands.handle(
      transferDecider,
      'fwd-transfer',
      {
        type: 'FailTransfer',
        data: { transferId: 'fwd-transfer', reason: 'moved on elsewhere' },
        metadata: { now: new Date().toISOString() },
      },
      { commandId: 'elsewhere/fail-transfer' },
    );
    debitHeld.gate.resolve();

    const status = await h.waitForStatus(sagaId, parked);
    expect(status).toMatchObject({ outcome: 'FORWARD_STEP_FAILED', failingStep: 'mark debited' });
    expect(status.failureReason).toMatch(/^ILLEGAL_TRANSITION/);
    expect(await sagaStatusAttribute(sagaId, 'FORWARD_STEP_FAILED')).toBe('FORWARD_STEP_FAILED');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await workflowStatus(sagaId)).toBe('RUNNING');
    await h.client.workflow.getHandle(sagaId).terminate('test over');
  });

  it('a retryStep sent before the park arms nothing: the step parks once and stays parked', async () => {
    await h.openAccount('early-src', 5_000);
    await h.openAccount('early-dst', 0);
    const { sagaId } = await h.startTransfer('fwd-early', 'early-src', 'early-dst', 1_000);
    await earlyDebitHeld.entered.promise;
    const handle = h.client.workflow.getHandle(sagaId);
    await handle.signal('retryStep'); // nothing is parked yet: ignored
    await h.commands.handle(
      transferDecider,
      'fwd-early',
      {
        type: 'FailTransfer',
        data: { transferId: 'fwd-early', reason: 'moved on elsewhere' },
        metadata: { now: new Date().toISOString() },
      },
      { commandId: 'elsewhere/fail-fwd-early' },
    );
    earlyDebitHeld.gate.resolve();

    const status = await h.waitForStatus(sagaId, parked);
    expect(status.failingStep).toBe('mark debited');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(earlyMarkDebited.count).toBe(1); // rejected once, not retried unattended
    expect((await h.status(sagaId)).status).toBe('FORWARD_STEP_FAILED');
    await handle.terminate('test over');
  });
});
