import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // 10.00; the harness's approval threshold is 500.00

describe('orderFulfillment saga', () => {
  const h = new SagaHarness('order_saga');
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('completes: stock committed, shipment dispatched, customer charged, merchant credited', async () => {
    await h.openAccount('cust-happy', 10_000);
    await h.restock('sku-happy-a', 10);
    await h.restock('sku-happy-b', 10);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'happy',
      customerId: 'c-1',
      paymentAccountId: 'cust-happy',
      items: [
        { sku: 'sku-happy-a', quantity: 2, unitPrice: PRICE },
        { sku: 'sku-happy-b', quantity: 1, unitPrice: 500 },
      ],
    });
    expect(sagaId).toBe('order-happy');
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });

    expect(await h.eventTypes('order-happy')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
    expect(await h.eventTypes('inventory-sku-happy-a')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
    expect(await h.eventTypes('shipment-happy')).toEqual(['ShipmentBooked', 'ShipmentDispatched']);
    expect(await h.balance('cust-happy')).toBe(10_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);

    const status = await h.status(sagaId);
    expect(status).toMatchObject({
      status: 'COMPLETED',
      outcome: 'COMPLETED',
      compensationsRun: [],
    });
    expect(status.completedSteps).toContain('charge customer');

    expect(await h.searchAttributes(sagaId, (a) => a.SagaStatus === 'COMPLETED')).toEqual(
      expect.objectContaining({
        SagaType: 'orderFulfillment',
        SagaStatus: 'COMPLETED',
        CustomerId: 'c-1',
        CorrelationId: 'corr-happy',
      }),
    );
    // SagaStatus moves only at milestones; the query saw every step (above).
    expect(await h.sagaStatusUpdates(sagaId)).toEqual(['PAID', 'COMPLETED']);
    // Every event the saga caused carries its correlation id.
    const metadata = (await h.db.eventStore.readStream('order-happy')).map(
      (e) => e.metadata.correlation_id,
    );
    expect(new Set(metadata)).toEqual(new Set(['corr-happy']));
  });

  it('attaches to the running saga when the same order is started again', async () => {
    await h.openAccount('cust-twice', 10_000);
    await h.restock('sku-twice', 5);
    const order = {
      orderId: 'twice',
      customerId: 'c-2',
      paymentAccountId: 'cust-twice',
      items: [{ sku: 'sku-twice', quantity: 1, unitPrice: PRICE }],
    };
    const [first, second] = await Promise.all([h.placeOrder(order), h.placeOrder(order)]);
    expect(first.sagaId).toBe(second.sagaId);
    await h.result(first.sagaId);
    const third = await h.placeOrder(order);
    expect(third.started).toBe(false);
    expect(await h.eventTypes('order-twice')).toHaveLength(6);
    expect(await h.balance('cust-twice')).toBe(10_000 - PRICE);
  });

  it('out of stock: releases what it reserved, in reverse, and cancels the order', async () => {
    await h.openAccount('cust-nostock', 10_000);
    await h.restock('sku-ns-a', 10);
    await h.restock('sku-ns-b', 1);
    const { sagaId } = await h.placeOrder({
      orderId: 'nostock',
      customerId: 'c-3',
      paymentAccountId: 'cust-nostock',
      items: [
        { sku: 'sku-ns-a', quantity: 3, unitPrice: PRICE },
        { sku: 'sku-ns-b', quantity: 2, unitPrice: PRICE },
      ],
    });
    const result = await h.result(sagaId);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.reason).toMatch(/^INSUFFICIENT_STOCK/);
    const status = await h.status(sagaId);
    expect(status.compensationsRun).toEqual(['release stock sku-ns-b', 'release stock sku-ns-a']);
    expect(await h.eventTypes('inventory-sku-ns-a')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    expect((await h.eventTypes('inventory-sku-ns-b')).filter((t) => t === 'StockReserved')).toEqual(
      [],
    );
    expect(await h.eventTypes('order-nostock')).toEqual(['OrderPlaced', 'OrderCancelled']);
    expect(await h.balance('cust-nostock')).toBe(10_000);
  });

  it('insufficient funds at the pivot: cancels the shipment and releases the stock', async () => {
    await h.openAccount('cust-poor', 100);
    await h.restock('sku-poor', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'poor',
      customerId: 'c-4',
      paymentAccountId: 'cust-poor',
      items: [{ sku: 'sku-poor', quantity: 2, unitPrice: PRICE }],
    });
    const result = await h.result(sagaId);
    expect(result).toMatchObject({ outcome: 'CANCELLED' });
    expect(result.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    expect((await h.status(sagaId)).compensationsRun).toEqual([
      'refund payment',
      'cancel shipment',
      'release stock sku-poor',
    ]);
    expect(await h.eventTypes('shipment-poor')).toEqual(['ShipmentBooked', 'ShipmentCancelled']);
    expect(await h.eventTypes('inventory-sku-poor')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    expect(await h.eventTypes('order-poor')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderCancelled',
    ]);
    // The refund compensation found no debit: it voids the reference instead, so a late
    // debit attempt can take nothing.
    expect(await h.eventTypes('account-cust-poor')).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'DebitVoided',
    ]);
    expect(await h.balance('cust-poor')).toBe(100);
  });

  it('unserved destination: the carrier refuses, stock is released', async () => {
    await h.openAccount('cust-far', 10_000);
    await h.restock('sku-far', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'far',
      customerId: 'c-5',
      paymentAccountId: 'cust-far',
      items: [{ sku: 'sku-far', quantity: 1, unitPrice: PRICE }],
      country: 'kp',
    });
    const result = await h.result(sagaId);
    expect(result.reason).toMatch(/^DESTINATION_NOT_SERVED/);
    expect((await h.status(sagaId)).compensationsRun).toEqual([
      'cancel shipment',
      'release stock sku-far',
    ]);
    expect(await h.eventTypes('inventory-sku-far')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    expect(await h.balance('cust-far')).toBe(10_000);
  });

  it('large order: waits for approval, then completes once approved', async () => {
    await h.openAccount('cust-big', 1_000_000);
    await h.restock('sku-big', 100);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'big',
      customerId: 'c-6',
      paymentAccountId: 'cust-big',
      items: [{ sku: 'sku-big', quantity: 60, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    const attributes = await h.searchAttributes(
      sagaId,
      (a) => a.SagaStatus === 'AWAITING_APPROVAL',
    );
    expect(attributes.SagaStatus).toBe('AWAITING_APPROVAL');
    await h.client.workflow.getHandle(sagaId).signal('approve', { approvedBy: 'ops' });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(await h.sagaStatusUpdates(sagaId)).toEqual(['AWAITING_APPROVAL', 'PAID', 'COMPLETED']);
    expect(await h.eventTypes('order-big')).toContain('OrderApproved');
    expect(await h.balance('cust-big')).toBe(1_000_000 - total);
  });

  it('large order: cancelled when approval does not come in time', async () => {
    await h.openAccount('cust-slow', 1_000_000);
    await h.restock('sku-slow', 100);
    const { sagaId } = await h.placeOrder({
      orderId: 'slow',
      customerId: 'c-7',
      paymentAccountId: 'cust-slow',
      items: [{ sku: 'sku-slow', quantity: 60, unitPrice: PRICE }],
    });
    const result = await h.result(sagaId);
    expect(result.reason).toMatch(/^APPROVAL_TIMED_OUT/);
    expect((await h.status(sagaId)).compensationsRun).toEqual([
      'cancel shipment',
      'release stock sku-slow',
    ]);
    expect(await h.balance('cust-slow')).toBe(1_000_000);
  });

  it('a cancel signal before the pivot compensates and cancels with the reason code', async () => {
    await h.openAccount('cust-cancel', 1_000_000);
    await h.restock('sku-cancel', 100);
    const { sagaId } = await h.placeOrder({
      orderId: 'cancel',
      customerId: 'c-8',
      paymentAccountId: 'cust-cancel',
      items: [{ sku: 'sku-cancel', quantity: 60, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    // Free text in a signal (typed into the UI, or from an older client) is never recorded.
    await h.client.workflow.getHandle(sagaId).signal('cancel', {
      reasonCode: 'CUSTOMER_REQUEST',
      requestedBy: 'key-ops',
      reason: 'customer changed their mind',
    });
    const result = await h.result(sagaId);
    expect(result).toEqual({
      outcome: 'CANCELLED',
      status: 'CANCELLED',
      reason: 'CANCELLED: CUSTOMER_REQUEST by key-ops',
    });
    expect(await h.sagaStatusUpdates(sagaId)).toEqual([
      'AWAITING_APPROVAL',
      'COMPENSATING',
      'CANCELLED',
    ]);
    expect(await h.eventTypes('inventory-sku-cancel')).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    expect(await h.eventTypes('shipment-cancel')).toEqual(['ShipmentBooked', 'ShipmentCancelled']);
    const order = await h.db.eventStore.readStream('order-cancel');
    expect(order[order.length - 1]).toMatchObject({
      type: 'OrderCancelled',
      data: { reason: 'CANCELLED: CUSTOMER_REQUEST by key-ops' },
    });
    expect(JSON.stringify(order.map((e) => e.data))).not.toContain('changed their mind');
  });
});
