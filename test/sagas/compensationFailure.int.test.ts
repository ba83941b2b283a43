import type { SagaStatusView } from '../../workflows/definitions';
import {
  checkAccount,
  checkInventory,
  Deferred,
  sleep,
  failWhile,
  holdUntil,
  withFaults,
} from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // below the harness's approval threshold

describe('compensations that fail, and cancels that come too late', () => {
  /** While set, releasing the stock of order "stuck" fails (e.g. the inventory service is down). */
  let inventoryDown = true;
  const releaseCalls = { count: 0 };
  /** Holds the revenue credit (after the pivot) of these orders until their gate opens. */
  const held = {
    'late-cancel': { gate: new Deferred(), entered: new Deferred<number>() },
    'late-cancel-signal': { gate: new Deferred(), entered: new Deferred<number>() },
  };

  /** Order "early-retry": its stock release fails while set; its shipment cancel is held. */
  let earlyInventoryDown = true;
  const earlyReleaseCalls = { count: 0 };
  const earlyCancelHeld = { gate: new Deferred(), entered: new Deferred<number>() };

  const h = new SagaHarness('comp_failure', {
    config: { COMPENSATION_MAX_ATTEMPTS: '2' },
    wrapActivities: (real) =>
      withFaults(real, {
        releaseStock: (fn) =>
          failWhile(
            'releaseStock',
            failWhile('releaseStock', fn, {
              match: (input) => input.orderId === 'early-retry',
              isFailing: () => earlyInventoryDown,
              calls: earlyReleaseCalls,
            }),
            {
              match: (input) => input.orderId === 'stuck',
              isFailing: () => inventoryDown,
              calls: releaseCalls,
            },
          ),
        cancelShipment: (fn) =>
          holdUntil(fn, {
            match: (input) => input.orderId === 'early-retry',
            gate: earlyCancelHeld.gate.promise,
            entered: earlyCancelHeld.entered,
          }),
        creditAccount: (fn) =>
          Object.entries(held).reduce(
            (inner, [orderId, { gate, entered }]) =>
              holdUntil(inner, {
                match: (input) => input.reference === `order-${orderId}/revenue`,
                gate: gate.promise,
                entered,
              }),
            fn,
          ),
      }),
  });
  beforeAll(() => h.start());
  afterAll(async () => {
    for (const { gate } of Object.values(held)) gate.resolve();
    earlyCancelHeld.gate.resolve();
    await h.stop();
  });

  const sagaStatusAttribute = async (sagaId: string, expected: string) =>
    (await h.searchAttributes(sagaId, (a) => a.SagaStatus === expected)).SagaStatus;

  it('a compensation that keeps failing parks the saga; retryCompensation finishes the cancel', async () => {
    await h.openAccount('stuck-cust', 10_000);
    await h.restock('stuck-sku', 5);
    // An unserved destination makes the saga compensate: cancel shipment, then release stock.
    const { sagaId } = await h.placeOrder({
      orderId: 'stuck',
      customerId: 'c-stuck',
      paymentAccountId: 'stuck-cust',
      items: [{ sku: 'stuck-sku', quantity: 2, unitPrice: PRICE }],
      country: 'XX',
    });

    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked).toMatchObject<Partial<SagaStatusView>>({
      outcome: 'COMPENSATION_FAILED',
      failingCompensation: 'release stock stuck-sku',
      compensationsRun: ['cancel shipment'],
    });
    expect(parked.failureReason).toMatch(/^DESTINATION_NOT_SERVED/);
    expect(releaseCalls.count).toBe(2); // COMPENSATION_MAX_ATTEMPTS, then it parked
    expect(await sagaStatusAttribute(sagaId, 'COMPENSATION_FAILED')).toBe('COMPENSATION_FAILED');
    const orderEvents = await h.db.eventStore.readStream('order-stuck');
    expect(orderEvents.map((e) => e.type)).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderCompensationFailed',
    ]);
    expect(orderEvents[2]!.data).toMatchObject({ reason: 'release stock stuck-sku failed' });
    // Parked means parked: the stock stays reserved, nothing retries behind the operator's back.
    expect(await checkInventory(h.db.eventStore, 'stuck-sku')).toMatchObject({
      available: 3,
      reserved: 2,
    });
    const callsWhileParked = releaseCalls.count;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(releaseCalls.count).toBe(callsWhileParked);

    // The operator fixes the cause and asks for another try.
    inventoryDown = false;
    await h.client.workflow.getHandle(sagaId).signal('retryCompensation');

    const result = await h.result(sagaId);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.reason).toMatch(/^DESTINATION_NOT_SERVED/);
    const status = await h.status(sagaId);
    expect(status).toMatchObject<Partial<SagaStatusView>>({
      status: 'CANCELLED',
      outcome: 'CANCELLED',
      failingCompensation: null,
      compensationsRun: ['cancel shipment', 'release stock stuck-sku'],
    });
    expect(await sagaStatusAttribute(sagaId, 'CANCELLED')).toBe('CANCELLED');
    expect(await h.eventTypes('order-stuck')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderCompensationFailed',
      'OrderCancelled',
    ]);
    const stock = await checkInventory(h.db.eventStore, 'stuck-sku');
    expect(stock).toMatchObject({ received: 5, available: 5, reserved: 0, committed: 0 });
    expect(stock.events.map((e) => e.type)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    // The carrier refused the booking; the cancel leaves the shipment cancelled, never booked.
    const shipment = await h.eventTypes('shipment-stuck');
    expect(shipment).not.toContain('ShipmentDispatched');
    expect(shipment[shipment.length - 1]).toBe('ShipmentCancelled');
    expect((await checkAccount(h.db.eventStore, 'stuck-cust')).balance).toBe(10_000);
  });

  it('a retryCompensation sent before the park arms nothing: the saga stays parked until the next one', async () => {
    await h.openAccount('early-cust', 10_000);
    await h.restock('early-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'early-retry',
      customerId: 'c-early',
      paymentAccountId: 'early-cust',
      items: [{ sku: 'early-sku', quantity: 2, unitPrice: PRICE }],
      country: 'XX',
    });
    // Compensating (the shipment cancel is held), nothing parked yet: a stray early signal.
    await earlyCancelHeld.entered.promise;
    const handle = h.client.workflow.getHandle(sagaId);
    await handle.signal('retryCompensation');
    expect((await h.status(sagaId)).status).toBe('COMPENSATING');
    earlyCancelHeld.gate.resolve();

    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'COMPENSATION_FAILED');
    expect(parked.failingCompensation).toBe('release stock early-sku');
    // Parked means parked: the early signal armed no second round behind the operator's back.
    await sleep(1_500);
    expect(earlyReleaseCalls.count).toBe(2); // COMPENSATION_MAX_ATTEMPTS, once
    expect((await h.status(sagaId)).status).toBe('COMPENSATION_FAILED');
    expect(await checkInventory(h.db.eventStore, 'early-sku')).toMatchObject({
      available: 3,
      reserved: 2,
    });

    // The operator's signal, sent while parked, is the one that counts.
    earlyInventoryDown = false;
    await handle.signal('retryCompensation');
    expect((await h.result(sagaId)).outcome).toBe('CANCELLED');
    expect(earlyReleaseCalls.count).toBe(3);
    expect(await checkInventory(h.db.eventStore, 'early-sku')).toMatchObject({
      available: 5,
      reserved: 0,
    });
  });

  it('a cancel after the pivot is refused with a reason, and the order still completes', async () => {
    await h.openAccount('late-cust', 10_000);
    await h.restock('late-sku', 5);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'late-cancel',
      customerId: 'c-late',
      paymentAccountId: 'late-cust',
      items: [{ sku: 'late-sku', quantity: 1, unitPrice: PRICE }],
    });
    await held['late-cancel'].entered.promise; // the customer was charged; the revenue credit is held
    const handle = h.client.workflow.getHandle(sagaId);
    expect((await h.status(sagaId)).status).toBe('PAID');
    // A saga held after the pivot is what an operator looks for: PAID is a milestone.
    expect(await sagaStatusAttribute(sagaId, 'PAID')).toBe('PAID');

    const refused = await handle.executeUpdate('cancelOrder', { args: [{ reason: 'x' }] }).then(
      () => undefined,
      (error: unknown) => error as Error & { cause?: Error },
    );
    expect(refused).toBeDefined();
    expect(refused!.name).toBe('WorkflowUpdateFailedError');
    expect(refused!.cause?.message).toMatch(/payment was taken, so it can no longer be cancelled/);

    // A rejected update leaves no trace in history (its validator must not change state),
    // so the refusal reaches the caller only; the signal path below records it.
    expect(refused!.cause?.message).toBe(
      'order late-cancel is PAID: the payment was taken, so it can no longer be cancelled',
    );
    expect((await h.status(sagaId)).cancelRefusedReason).toBeNull();

    held['late-cancel'].gate.resolve();
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });
    expect(await h.eventTypes('order-late-cancel')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
    expect((await checkAccount(h.db.eventStore, 'late-cust')).balance).toBe(10_000 - total);
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
  });

  it('a cancel signal after the pivot is refused, and the refusal shows in the status', async () => {
    await h.openAccount('late-signal-cust', 10_000);
    await h.restock('late-signal-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'late-cancel-signal',
      customerId: 'c-late-signal',
      paymentAccountId: 'late-signal-cust',
      items: [{ sku: 'late-signal-sku', quantity: 1, unitPrice: PRICE }],
    });
    await held['late-cancel-signal'].entered.promise;
    await h.client.workflow.getHandle(sagaId).signal('cancel', { reason: 'too late' });
    const status = await h.waitForStatus(sagaId, (s) => s.cancelRefusedReason !== null);
    expect(status.cancelRefusedReason).toMatch(
      /payment was taken, so it can no longer be cancelled/,
    );
    held['late-cancel-signal'].gate.resolve();
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(await h.eventTypes('order-late-cancel-signal')).not.toContain('OrderCancelled');
  });
});
