import { Context } from '@temporalio/activity';
import { checkAccount, checkInventory, Deferred, withFaults } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // 10.00; the harness's approval threshold is 500.00

/**
 * SAGA_LOCAL_ACTIVITIES=on: the steps run as local activities. The history shows markers
 * instead of activity tasks, and each path keeps its outcome and its invariants. The harness
 * caches no workflow (every task replays), so a local activity whose marker was not yet
 * recorded runs again: the steps' idempotency is what keeps each effect single.
 */
describe('sagas on local activities', () => {
  /** The first attempt of the revenue credit of order "la-slow" commits, then hangs. */
  const creditEntered = new Deferred<void>();
  const h = new SagaHarness('local_activities', {
    config: { SAGA_LOCAL_ACTIVITIES: 'on' },
    wrapActivities: (real) =>
      withFaults(real, {
        creditAccount: (fn) => async (input) => {
          const result = await fn(input);
          const info = Context.current().info;
          if (input.reference === 'order-la-slow/revenue' && info.attempt === 1) {
            creditEntered.resolve();
            await Context.current().cancelled; // until the worker's shutdown cancels it
          }
          return result;
        },
      }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const historyOf = async (sagaId: string) => {
    const { events } = await h.client.workflow.getHandle(sagaId).fetchHistory();
    return {
      markers: (events ?? []).filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      ).length,
      activityTasks: (events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length,
      workflowTasks: (events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length,
    };
  };

  it('an order completes with markers, not activity tasks, and in few workflow tasks', async () => {
    await h.openAccount('la-cust', 10_000);
    await h.restock('la-sku', 10);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'la-happy',
      customerId: 'c-la',
      paymentAccountId: 'la-cust',
      items: [{ sku: 'la-sku', quantity: 2, unitPrice: PRICE }],
    });
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    const history = await historyOf(sagaId);
    // reserve, mark reserved, book, mark booked, charge, mark paid, credit, dispatch,
    // commit, mark dispatched, complete: one marker each.
    expect(history).toMatchObject({ markers: 11, activityTasks: 0 });
    expect(history.workflowTasks).toBeLessThan(11);
    expect(await h.eventTypes('order-la-happy')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
    expect(await h.balance('la-cust')).toBe(10_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'la-sku')).toMatchObject({
      available: 8,
      reserved: 0,
      committed: 2,
    });
    expect((await h.status(sagaId)).completedSteps).toContain('charge customer');
    expect(await h.sagaStatusUpdates(sagaId)).toEqual(['PAID', 'COMPLETED']);
  });

  it('a rejected step still compensates in reverse: out of stock releases nothing taken, charges nothing', async () => {
    await h.openAccount('la-poor-stock', 10_000);
    await h.restock('la-sku-a', 5);
    await h.restock('la-sku-b', 1);
    const { sagaId } = await h.placeOrder({
      orderId: 'la-oos',
      customerId: 'c-la',
      paymentAccountId: 'la-poor-stock',
      items: [
        { sku: 'la-sku-a', quantity: 2, unitPrice: PRICE },
        { sku: 'la-sku-b', quantity: 3, unitPrice: PRICE },
      ],
    });
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'CANCELLED' });
    expect(await h.balance('la-poor-stock')).toBe(10_000);
    expect(await checkInventory(h.db.eventStore, 'la-sku-a')).toMatchObject({
      available: 5,
      reserved: 0,
      committed: 0,
    });
    expect((await h.status(sagaId)).compensationsRun).toContain('release stock la-sku-a');
  });

  it('transfers complete, and a debit refused for funds fails the transfer with nothing moved', async () => {
    await h.openAccount('la-src', 5_000);
    await h.openAccount('la-dst', 0);
    const done = await h.startTransfer('la-t1', 'la-src', 'la-dst', 1_500);
    expect((await h.result(done.sagaId)).outcome).toBe('COMPLETED');
    const refused = await h.startTransfer('la-t2', 'la-src', 'la-dst', 9_000);
    expect((await h.result(refused.sagaId)).outcome).toBe('FAILED');
    expect(await h.balance('la-src')).toBe(3_500);
    expect(await h.balance('la-dst')).toBe(1_500);
    expect(await historyOf(done.sagaId)).toMatchObject({ activityTasks: 0 });
  });

  it('a worker stopped while a step hangs after committing: the new worker runs it again, the effect stays single', async () => {
    await h.openAccount('la-slow-cust', 10_000);
    await h.restock('la-slow-sku', 10);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'la-slow',
      customerId: 'c-la',
      paymentAccountId: 'la-slow-cust',
      items: [{ sku: 'la-slow-sku', quantity: 2, unitPrice: PRICE }],
    });
    await creditEntered.promise;
    await h.stopWorker();
    await h.startWorker();

    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const merchant = await checkAccount(h.db.eventStore, MERCHANT);
    expect(
      merchant.events.filter(
        (e) => (e.data as { reference?: string }).reference === 'order-la-slow/revenue',
      ),
    ).toHaveLength(1);
    expect(merchant.balance).toBe(merchantBefore + total);
    expect((await checkAccount(h.db.eventStore, 'la-slow-cust')).balance).toBe(10_000 - total);
    expect(await checkInventory(h.db.eventStore, 'la-slow-sku')).toMatchObject({
      available: 8,
      committed: 2,
      reserved: 0,
    });
  }, 60_000);
});
