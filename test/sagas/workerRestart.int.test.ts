import { Context } from '@temporalio/activity';
import { checkAccount, checkInventory, Deferred, FaultLog, withFaults } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // 10.00; the harness's approval threshold is 500.00

const COMPLETED_ORDER = [
  'OrderPlaced',
  'OrderStockReserved',
  'OrderShipmentBooked',
  'OrderPaid',
  'OrderDispatched',
  'OrderCompleted',
];
const COMPLETED_TRANSFER = [
  'TransferRequested',
  'TransferDebited',
  'TransferCredited',
  'TransferCompleted',
];

/**
 * The worker goes away in the middle of a saga (deploy, crash) and a new one takes over:
 * the saga resumes from its history and every invariant still holds.
 */
describe('worker restart in the middle of a saga', () => {
  const log = new FaultLog();
  /** The first attempt of the revenue credit of order "slow-credit" commits, then hangs. */
  const creditEntered = new Deferred<number>();
  const h = new SagaHarness('worker_restart', {
    wrapActivities: (real) =>
      withFaults(real, {
        creditAccount: (fn) => async (input) => {
          const result = await fn(input);
          const info = Context.current().info;
          if (input.reference === 'order-slow-credit/revenue' && info.attempt === 1) {
            log.add('creditAccount', 'blocked');
            creditEntered.resolve(info.attempt);
            // Hangs like a process that lost its connection: only the worker's shutdown
            // (which cancels in-flight activities after its grace time) ends this attempt.
            await Context.current().cancelled;
          }
          return result;
        },
      }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('an order waiting for approval is approved while no worker runs, and completes on the new one', async () => {
    await h.openAccount('restart-big', 1_000_000);
    await h.restock('restart-sku-big', 100);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'restart-approval',
      customerId: 'c-restart',
      paymentAccountId: 'restart-big',
      items: [{ sku: 'restart-sku-big', quantity: 55, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');

    await h.stopWorker();
    // The server takes the signal with no worker around; the timer keeps running meanwhile
    // (the harness's approval timeout is 3s, so approve well before it).
    await h.client.workflow.getHandle(sagaId).signal('approve', { approvedBy: 'ops' });
    await h.startWorker();

    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect(await h.eventTypes('order-restart-approval')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderApprovalRequested',
      'OrderApproved',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
    const stock = await checkInventory(h.db.eventStore, 'restart-sku-big');
    expect(stock).toMatchObject({ received: 100, available: 45, reserved: 0, committed: 55 });
    expect((await checkAccount(h.db.eventStore, 'restart-big')).balance).toBe(1_000_000 - total);
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
  });

  it('a worker stopped while a step hangs after committing: the new worker retries it, once', async () => {
    await h.openAccount('restart-slow', 10_000);
    await h.restock('restart-sku-slow', 10);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'slow-credit',
      customerId: 'c-slow',
      paymentAccountId: 'restart-slow',
      items: [{ sku: 'restart-sku-slow', quantity: 2, unitPrice: PRICE }],
    });
    await creditEntered.promise;
    expect((await h.status(sagaId)).currentStep).toBe('credit revenue');

    await h.stopWorker(); // cancels the hanging attempt once its grace time is up
    await h.startWorker();

    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(await h.eventTypes('order-slow-credit')).toEqual(COMPLETED_ORDER);
    const merchant = await checkAccount(h.db.eventStore, MERCHANT);
    expect(
      merchant.events.filter(
        (e) => (e.data as { reference?: string }).reference === 'order-slow-credit/revenue',
      ),
    ).toHaveLength(1);
    expect(merchant.balance).toBe(merchantBefore + total);
    expect((await checkAccount(h.db.eventStore, 'restart-slow')).balance).toBe(10_000 - total);
    expect(await checkInventory(h.db.eventStore, 'restart-sku-slow')).toMatchObject({
      received: 10,
      available: 8,
      committed: 2,
      reserved: 0,
    });
  }, 60_000);

  it('a batch of orders and transfers in flight survives a worker swap with every invariant intact', async () => {
    const ORDERS = 6;
    const TRANSFERS = 4;
    await h.openAccount('batch-cust', 100_000);
    await h.openAccount('batch-a', 20_000);
    await h.openAccount('batch-b', 0);
    await h.restock('batch-sku', 20);
    const merchantBefore = await h.balance(MERCHANT);

    const orders = await Promise.all(
      Array.from({ length: ORDERS }, (_, i) =>
        h.placeOrder({
          orderId: `batch-${i}`,
          customerId: 'c-batch',
          paymentAccountId: 'batch-cust',
          items: [{ sku: 'batch-sku', quantity: 2, unitPrice: PRICE }],
        }),
      ),
    );
    const transfers = await Promise.all(
      Array.from({ length: TRANSFERS }, (_, i) =>
        h.startTransfer(`batch-${i}`, 'batch-a', 'batch-b', 1_000 * (i + 1)),
      ),
    );
    // Let them get going, then swap the worker while they are mid-way.
    await h.waitForStatus(orders[0]!.sagaId, (s) => s.completedSteps.length >= 2);
    const midway = await Promise.all(orders.map((o) => h.status(o.sagaId)));
    await h.stopWorker();
    await h.startWorker();

    const results = await Promise.all([
      ...orders.map((o) => h.result(o.sagaId)),
      ...transfers.map((t) => h.result(t.sagaId)),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(Array(ORDERS + TRANSFERS).fill('COMPLETED'));
    // Not everything had finished when the worker stopped (else this proves nothing).
    expect(midway.some((s) => s.outcome === 'RUNNING')).toBe(true);

    for (let i = 0; i < ORDERS; i++)
      expect(await h.eventTypes(`order-batch-${i}`)).toEqual(COMPLETED_ORDER);
    for (let i = 0; i < TRANSFERS; i++)
      expect(await h.eventTypes(`transfer-batch-${i}`)).toEqual(COMPLETED_TRANSFER);

    const stock = await checkInventory(h.db.eventStore, 'batch-sku');
    expect(stock).toMatchObject({
      received: 20,
      available: 20 - 2 * ORDERS,
      reserved: 0,
      committed: 2 * ORDERS,
    });
    expect(stock.events.filter((e) => e.type === 'StockReserved')).toHaveLength(ORDERS);
    expect(stock.events.filter((e) => e.type === 'ReservationCommitted')).toHaveLength(ORDERS);

    const ordersTotal = orders.reduce((sum, o) => sum + o.total, 0);
    const moved = (TRANSFERS * (TRANSFERS + 1) * 1_000) / 2;
    const cust = await checkAccount(h.db.eventStore, 'batch-cust');
    const a = await checkAccount(h.db.eventStore, 'batch-a');
    const b = await checkAccount(h.db.eventStore, 'batch-b');
    const merchant = await checkAccount(h.db.eventStore, MERCHANT);
    expect(cust.balance).toBe(100_000 - ordersTotal);
    expect(a.balance).toBe(20_000 - moved);
    expect(b.balance).toBe(moved);
    expect(merchant.balance).toBe(merchantBefore + ordersTotal);
    expect(cust.events.filter((e) => e.type === 'AccountDebited')).toHaveLength(ORDERS);
    expect(a.events.filter((e) => e.type === 'AccountDebited')).toHaveLength(TRANSFERS);
    expect(b.events.filter((e) => e.type === 'AccountCredited')).toHaveLength(TRANSFERS);
  });
});
