import {
  ALL_PROJECTIONS,
  createInlineProjector,
  getAccountBalance,
  getInventoryLevel,
  getOrderSummary,
  getTransferSummary,
} from '../../src/projections';
import type { SagaResult } from '../../workflows/definitions';
import { checkAccount, checkInventory, Deferred, holdUntil, withFaults } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // 10.00; the harness's approval threshold is 500.00
const LARGE = 60; // 60 x 10.00 waits for approval

/** A step held until the test opens its gate; `entered` says it is running. */
const heldStep = () => ({ gate: new Deferred(), entered: new Deferred<number>() });

/**
 * A cancellation requested from Temporal itself (the UI's "Request Cancellation",
 * `temporal workflow cancel`, `handle.cancel()`). Before the pivot it is the cancel signal;
 * after it, the saga finishes forward and says why. Either way no money or stock is lost.
 */
describe('a cancellation requested from Temporal', () => {
  const held = {
    reserve: heldStep(), // order "tc-mid-step": its stock reservation
    revenue: heldStep(), // order "tc-after-pivot": the revenue credit after the charge
    debit: heldStep(), // transfer "tc-before-credit": the debit of the source
    credit: heldStep(), // transfer "tc-during-credit": the credit (its pivot)
  };
  const h = new SagaHarness('temporal_cancel', {
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS),
    }),
    wrapActivities: (real) =>
      withFaults(real, {
        reserveStock: (fn) =>
          holdUntil(fn, {
            match: (input) => input.orderId === 'tc-mid-step',
            gate: held.reserve.gate.promise,
            entered: held.reserve.entered,
          }),
        creditAccount: (fn) =>
          holdUntil(
            holdUntil(fn, {
              match: (input) => input.reference === 'order-tc-after-pivot/revenue',
              gate: held.revenue.gate.promise,
              entered: held.revenue.entered,
            }),
            {
              match: (input) => input.reference === 'transfer-tc-during-credit/credit',
              gate: held.credit.gate.promise,
              entered: held.credit.entered,
            },
          ),
        debitAccount: (fn) =>
          holdUntil(fn, {
            match: (input) => input.reference === 'transfer-tc-before-credit/debit',
            gate: held.debit.gate.promise,
            entered: held.debit.entered,
          }),
      }),
  });
  beforeAll(() => h.start());
  afterAll(async () => {
    for (const { gate } of Object.values(held)) gate.resolve();
    await h.stop();
  });

  const cancelFromTemporal = (sagaId: string) => h.client.workflow.getHandle(sagaId).cancel();
  const describeStatus = async (sagaId: string) =>
    (await h.client.workflow.getHandle(sagaId).describe()).status.name;

  /** Stock and money of a cancelled order are back where they were; everyone agrees. */
  async function expectOrderUndone(orderId: string, sku: string, account: string, deposit: number) {
    const stock = await checkInventory(h.db.eventStore, sku);
    expect(stock).toMatchObject({ available: stock.received, reserved: 0, committed: 0 });
    expect(await getInventoryLevel(h.db.pool, sku)).toMatchObject({
      available: stock.received,
      reserved: 0,
      committed: 0,
    });
    expect((await checkAccount(h.db.eventStore, account)).balance).toBe(deposit);
    expect(await getAccountBalance(h.db.pool, account)).toMatchObject({ balance: deposit });
    const order = await h.eventTypes(`order-${orderId}`);
    expect(order[order.length - 1]).toBe('OrderCancelled');
    expect(await getOrderSummary(h.db.pool, orderId)).toMatchObject({ status: 'CANCELLED' });
  }

  it('order, before the pivot (awaiting approval): compensates and marks the order CANCELLED', async () => {
    await h.openAccount('tc-wait-cust', 1_000_000);
    await h.restock('tc-wait-sku', 100);
    const { sagaId } = await h.placeOrder({
      orderId: 'tc-wait',
      customerId: 'c-tc',
      paymentAccountId: 'tc-wait-cust',
      items: [{ sku: 'tc-wait-sku', quantity: LARGE, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await cancelFromTemporal(sagaId);

    const result = await h.result(sagaId);
    expect(result).toMatchObject<Partial<SagaResult>>({
      outcome: 'CANCELLED',
      status: 'CANCELLED',
    });
    expect(result.reason).toMatch(/^CANCELLED: /);
    expect((await h.status(sagaId)).compensationsRun).toEqual([
      'cancel shipment',
      'release stock tc-wait-sku',
    ]);
    expect(await h.eventTypes('shipment-tc-wait')).toEqual(['ShipmentBooked', 'ShipmentCancelled']);
    await expectOrderUndone('tc-wait', 'tc-wait-sku', 'tc-wait-cust', 1_000_000);
  });

  it('order, before the pivot, during a step: the step finishes, then everything is undone', async () => {
    await h.openAccount('tc-mid-cust', 10_000);
    await h.restock('tc-mid-sku', 10);
    const { sagaId } = await h.placeOrder({
      orderId: 'tc-mid-step',
      customerId: 'c-tc',
      paymentAccountId: 'tc-mid-cust',
      items: [{ sku: 'tc-mid-sku', quantity: 4, unitPrice: PRICE }],
    });
    await held.reserve.entered.promise;
    await cancelFromTemporal(sagaId);
    // The reservation commits after the cancel was requested (the step was not abandoned).
    await new Promise((resolve) => setTimeout(resolve, 500));
    held.reserve.gate.resolve();

    expect((await h.result(sagaId)).outcome).toBe('CANCELLED');
    expect(await h.eventTypes('inventory-tc-mid-sku')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    await expectOrderUndone('tc-mid-step', 'tc-mid-sku', 'tc-mid-cust', 10_000);
  });

  it('order, after the pivot: refused in effect, the saga finishes forward and says why', async () => {
    await h.openAccount('tc-late-cust', 10_000);
    await h.restock('tc-late-sku', 10);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'tc-after-pivot',
      customerId: 'c-tc',
      paymentAccountId: 'tc-late-cust',
      items: [{ sku: 'tc-late-sku', quantity: 2, unitPrice: PRICE }],
    });
    await held.revenue.entered.promise; // charged; the revenue credit is running
    await cancelFromTemporal(sagaId);
    const refused = await h.waitForStatus(sagaId, (s) => s.cancelRefusedReason !== null);
    expect(refused.cancelRefusedReason).toMatch(/payment was taken/);
    held.revenue.gate.resolve();

    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect(await describeStatus(sagaId)).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'tc-late-cust')).balance).toBe(10_000 - total);
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
    const stock = await checkInventory(h.db.eventStore, 'tc-late-sku');
    expect(stock).toMatchObject({ available: 8, reserved: 0, committed: 2 });
    expect(await getInventoryLevel(h.db.pool, 'tc-late-sku')).toMatchObject({
      available: 8,
      reserved: 0,
      committed: 2,
    });
    expect(await h.eventTypes('shipment-tc-after-pivot')).toEqual([
      'ShipmentBooked',
      'ShipmentDispatched',
    ]);
    expect(await getOrderSummary(h.db.pool, 'tc-after-pivot')).toMatchObject({
      status: 'COMPLETED',
    });
  });

  it('transfer, before the credit: the debit finishes, the source is refunded, the transfer fails CANCELLED', async () => {
    await h.openAccount('tc-src-1', 5_000);
    await h.openAccount('tc-dst-1', 0);
    const { sagaId } = await h.startTransfer('tc-before-credit', 'tc-src-1', 'tc-dst-1', 1_200);
    await held.debit.entered.promise;
    await cancelFromTemporal(sagaId);
    await new Promise((resolve) => setTimeout(resolve, 500));
    held.debit.gate.resolve();

    const result = await h.result(sagaId);
    expect(result.reason).toMatch(/^CANCELLED: /);
    expect(['FAILED', 'COMPENSATED']).toContain(result.outcome);
    expect((await checkAccount(h.db.eventStore, 'tc-src-1')).balance).toBe(5_000);
    expect((await checkAccount(h.db.eventStore, 'tc-dst-1')).balance).toBe(0);
    expect(await getAccountBalance(h.db.pool, 'tc-src-1')).toMatchObject({ balance: 5_000 });
    const transfer = await h.eventTypes('transfer-tc-before-credit');
    expect(transfer).toContain('TransferFailed');
    expect(transfer).not.toContain('TransferCredited');
    const summary = await getTransferSummary(h.db.pool, 'tc-before-credit');
    expect(['FAILED', 'COMPENSATED']).toContain(summary?.status);
    expect(summary?.reason).toMatch(/^CANCELLED: /);
  });

  it('transfer, during the credit (its pivot): finishes forward and says why', async () => {
    await h.openAccount('tc-src-2', 5_000);
    await h.openAccount('tc-dst-2', 0);
    const { sagaId } = await h.startTransfer('tc-during-credit', 'tc-src-2', 'tc-dst-2', 700);
    await held.credit.entered.promise;
    await cancelFromTemporal(sagaId);
    const refused = await h.waitForStatus(sagaId, (s) => s.cancelRefusedReason !== null);
    expect(refused.cancelRefusedReason).toMatch(/credit/);
    held.credit.gate.resolve();

    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect((await checkAccount(h.db.eventStore, 'tc-src-2')).balance).toBe(4_300);
    expect((await checkAccount(h.db.eventStore, 'tc-dst-2')).balance).toBe(700);
    expect(await getTransferSummary(h.db.pool, 'tc-during-credit')).toMatchObject({
      status: 'COMPLETED',
    });
  });
});
