import type { SagaActivities } from '../../activities';
import {
  AbandonedSagaReconciler,
  type ReconciledSaga,
} from '../../src/application/abandonedSagaReconciler';
import { orderDecider } from '../../src/domain/order';
import { transferDecider } from '../../src/domain/transfer';
import { loadAggregate } from '../../src/eventstore';
import { checkAccount, checkInventory, Deferred, failWhile, withFaults } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000;

/** Holds one activity's matching calls at a gate; says when a held call entered and when it landed. */
class Hold {
  readonly gate = new Deferred();
  readonly entered = new Deferred();
  readonly landed = new Deferred();
  wrap<I, O>(real: (input: I) => Promise<O>, match: (input: I) => boolean) {
    return async (input: I): Promise<O> => {
      if (!match(input)) return real(input);
      this.entered.resolve();
      await this.gate.promise;
      try {
        return await real(input);
      } finally {
        this.landed.resolve();
      }
    };
  }
}

/**
 * The Temporal UI's Terminate, at any point of a saga: the workflow is gone, its order or
 * transfer is not finished. The reconciler must finish the job with money and stock
 * conserved, and the aggregates must end terminal and agree with each other.
 */
describe('terminated sagas, finished by the reconciler', () => {
  const held = {
    shipmentOfEarly: new Hold(),
    revenueOfPaid: new Hold(),
    revenueOfApproved: new Hold(),
    creditOfTransfer: new Hold(),
  };
  let parkedRefundFails = true;
  const h: SagaHarness = new SagaHarness('terminated', {
    config: { APPROVAL_TIMEOUT: '120s', COMPENSATION_MAX_ATTEMPTS: '2' },
    wrapActivities: (real: SagaActivities): SagaActivities =>
      withFaults(real, {
        bookShipment: (fn) =>
          held.shipmentOfEarly.wrap(fn, (input) => input.orderId === 'term-early'),
        creditAccount: (fn) =>
          held.creditOfTransfer.wrap(
            held.revenueOfApproved.wrap(
              held.revenueOfPaid.wrap(fn, (input) => input.reference === 'order-term-paid/revenue'),
              (input) => input.reference === 'order-term-approved/revenue',
            ),
            (input) => input.reference === 'transfer-term-t/credit',
          ),
        refundDebit: (fn) =>
          failWhile('refundDebit', fn, {
            match: (input) => input.debitReference === 'transfer-term-parked/debit',
            isFailing: () => parkedRefundFails,
          }),
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
  afterAll(async () => {
    for (const hold of Object.values(held)) hold.gate.resolve();
    await h.stop();
  });

  const terminate = (sagaId: string) =>
    h.client.workflow.getHandle(sagaId).terminate('operator clicked Terminate');

  /** Visibility is eventually consistent: passes until the saga shows up (bounded). */
  async function reconcileUntilFound(sagaId: string): Promise<ReconciledSaga> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = (await reconciler.reconcileOnce()).find((saga) => saga.sagaId === sagaId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`${sagaId}: the reconciler never found it`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function expectLeftAlone(sagaId: string) {
    expect((await reconciler.reconcileOnce()).map((saga) => saga.sagaId)).not.toContain(sagaId);
  }

  const orderState = async (orderId: string) =>
    (await loadAggregate(h.db.eventStore, orderDecider.streamId(orderId), orderDecider)).state;
  const transferState = async (transferId: string) =>
    (await loadAggregate(h.db.eventStore, transferDecider.streamId(transferId), transferDecider))
      .state;

  async function placeOrder(orderId: string, quantity: number) {
    await h.openAccount(`${orderId}-cust`, 100_000);
    await h.restock(`${orderId}-sku`, 100);
    return h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `${orderId}-cust`,
      items: [{ sku: `${orderId}-sku`, quantity, unitPrice: PRICE }],
    });
  }

  it('before the pivot, with stock reserved: undoes the steps and cancels the order', async () => {
    const { sagaId } = await placeOrder('term-early', 2);
    await held.shipmentOfEarly.entered.promise; // stock reserved, the booking is in flight
    await terminate(sagaId);
    expect(await checkInventory(h.db.eventStore, 'term-early-sku')).toMatchObject({
      reserved: 2,
    });

    expect(await reconcileUntilFound(sagaId)).toEqual({
      sagaId,
      workflowStatus: 'TERMINATED',
      action: 'compensated',
    });
    // The dead run's booking lands late: it finds the shipment cancelled and does nothing.
    held.shipmentOfEarly.gate.resolve();
    await held.shipmentOfEarly.landed.promise;

    const order = await orderState('term-early');
    expect(order.status).toBe('CANCELLED');
    expect(await checkInventory(h.db.eventStore, 'term-early-sku')).toMatchObject({
      available: 100,
      reserved: 0,
      committed: 0,
    });
    expect((await checkAccount(h.db.eventStore, 'term-early-cust')).balance).toBe(100_000);
    const shipment = await h.eventTypes('shipment-term-early');
    expect(shipment).toEqual(['ShipmentCancelled']);
    await expectLeftAlone(sagaId);
  });

  it('after the charge: a fresh run finishes the order, charging once and crediting once', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeOrder('term-paid', 3);
    await held.revenueOfPaid.entered.promise; // charged; the revenue credit is in flight
    await terminate(sagaId);

    expect((await reconcileUntilFound(sagaId)).action).toBe('resumed');
    held.revenueOfPaid.gate.resolve(); // the dead run's credit and the fresh run's, same step
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');

    expect((await orderState('term-paid')).status).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'term-paid-cust')).balance).toBe(100_000 - total);
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'term-paid-sku')).toMatchObject({
      available: 97,
      reserved: 0,
      committed: 3,
    });
    expect(await h.eventTypes('shipment-term-paid')).toEqual([
      'ShipmentBooked',
      'ShipmentDispatched',
    ]);
    await expectLeftAlone(sagaId);
  });

  it('after an approval and the charge: the fresh run does not wait for a second approval', async () => {
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await placeOrder('term-approved', 60); // above the threshold
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await h.client.workflow.getHandle(sagaId).signal('approve', { approvedBy: 'ops' });
    await held.revenueOfApproved.entered.promise;
    await terminate(sagaId);

    expect((await reconcileUntilFound(sagaId)).action).toBe('resumed');
    held.revenueOfApproved.gate.resolve();
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'term-approved-cust')).balance).toBe(
      100_000 - total,
    );
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'term-approved-sku')).toMatchObject({
      available: 40,
      committed: 60,
    });
  });

  it('a transfer terminated after the debit: a fresh run credits the destination once', async () => {
    await h.openAccount('term-t-a', 5_000);
    await h.openAccount('term-t-b', 0);
    const { sagaId } = await h.startTransfer('term-t', 'term-t-a', 'term-t-b', 1_200);
    await held.creditOfTransfer.entered.promise;
    await terminate(sagaId);

    expect((await reconcileUntilFound(sagaId)).action).toBe('resumed');
    held.creditOfTransfer.gate.resolve();
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect((await transferState('term-t')).status).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'term-t-a')).balance).toBe(3_800);
    expect((await checkAccount(h.db.eventStore, 'term-t-b')).balance).toBe(1_200);
    await expectLeftAlone(sagaId);
  });

  it('a transfer terminated while its refund was parked: refunded and marked compensated', async () => {
    await h.openAccount('term-p-a', 5_000);
    await h.openAccount('term-p-b', 0);
    await h.freeze('term-p-b');
    const { sagaId } = await h.startTransfer('term-parked', 'term-p-a', 'term-p-b', 700);
    await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect((await checkAccount(h.db.eventStore, 'term-p-a')).balance).toBe(4_300);
    // The operator terminates the parked saga instead of sending retryCompensation.
    await terminate(sagaId);
    parkedRefundFails = false;

    expect(await reconcileUntilFound(sagaId)).toEqual({
      sagaId,
      workflowStatus: 'TERMINATED',
      action: 'compensated',
    });
    expect((await transferState('term-parked')).status).toBe('COMPENSATED');
    expect((await checkAccount(h.db.eventStore, 'term-p-a')).balance).toBe(5_000);
    expect((await checkAccount(h.db.eventStore, 'term-p-b')).balance).toBe(0);
    await expectLeftAlone(sagaId);
  });
});
