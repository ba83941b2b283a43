import type { RecordedEvent } from '../../src/eventstore';
import { checkAccount, checkInventory } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // below the harness's approval threshold

/** Every event in the store, oldest first. */
async function allEvents(h: SagaHarness): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let after = 0n;
  for (;;) {
    const page = await h.db.eventStore.readAll({ after, limit: 500 });
    if (page.events.length === 0) return events;
    events.push(...page.events);
    after = page.lastPosition;
  }
}

/**
 * Many sagas race for the same aggregate: optimistic concurrency on the stream must let
 * exactly the right number through, and the loser must see a business rejection, not a
 * crash.
 */
describe('sagas racing for the same stock and the same money', () => {
  const h = new SagaHarness('contention');
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('20 orders for the last 5 units: 5 complete, 15 are cancelled for lack of stock', async () => {
    const ORDERS = 20;
    const UNITS = 5;
    await h.restock('last-units', UNITS);
    await Promise.all(
      Array.from({ length: ORDERS }, (_, i) => h.openAccount(`race-cust-${i}`, 10_000)),
    );

    const started = await Promise.all(
      Array.from({ length: ORDERS }, (_, i) =>
        h.placeOrder({
          orderId: `race-${i}`,
          customerId: `c-race-${i}`,
          paymentAccountId: `race-cust-${i}`,
          items: [{ sku: 'last-units', quantity: 1, unitPrice: PRICE }],
        }),
      ),
    );
    const results = await Promise.all(started.map((s) => h.result(s.sagaId)));

    const completed = results.flatMap((r, i) => (r.outcome === 'COMPLETED' ? [`race-${i}`] : []));
    const cancelled = results.flatMap((r, i) => (r.outcome === 'CANCELLED' ? [`race-${i}`] : []));
    expect(completed).toHaveLength(UNITS);
    expect(cancelled).toHaveLength(ORDERS - UNITS);
    for (const r of results.filter((r) => r.outcome === 'CANCELLED'))
      expect(r.reason).toMatch(/^INSUFFICIENT_STOCK/);

    // Never negative at any point, and the counts add up after every event.
    const stock = await checkInventory(h.db.eventStore, 'last-units');
    expect(stock).toMatchObject({ received: UNITS, available: 0, reserved: 0, committed: UNITS });

    const ofOrder = (orderId: string, type: string) =>
      stock.events.filter(
        (e) => e.type === type && (e.data as { orderId?: string }).orderId === orderId,
      );
    for (const orderId of completed) {
      expect(ofOrder(orderId, 'StockReserved')).toHaveLength(1);
      expect(ofOrder(orderId, 'ReservationCommitted')).toHaveLength(1);
      expect(ofOrder(orderId, 'ReservationReleased')).toHaveLength(0);
      expect(await h.eventTypes(`order-${orderId}`)).toEqual([
        'OrderPlaced',
        'OrderStockReserved',
        'OrderShipmentBooked',
        'OrderPaid',
        'OrderDispatched',
        'OrderCompleted',
      ]);
    }
    for (const orderId of cancelled) {
      expect(ofOrder(orderId, 'StockReserved')).toHaveLength(0);
      expect(ofOrder(orderId, 'ReservationCommitted')).toHaveLength(0);
      // A compensation of a reservation that never happened moves no stock.
      for (const release of ofOrder(orderId, 'ReservationReleased'))
        expect((release.data as { quantity: number }).quantity).toBe(0);
      expect(await h.eventTypes(`order-${orderId}`)).toEqual(['OrderPlaced', 'OrderCancelled']);
      expect(await h.balance(`race-cust-${orderId.slice('race-'.length)}`)).toBe(10_000);
    }
    expect(stock.events.filter((e) => e.type === 'StockReserved')).toHaveLength(UNITS);
    expect(stock.events.filter((e) => e.type === 'ReservationCommitted')).toHaveLength(UNITS);
  });

  it('transfers and order charges race on one account: never negative, money conserved', async () => {
    const DEPOSIT = 10_000;
    const TRANSFERS = 8;
    const TRANSFER_AMOUNT = 1_500;
    const ORDERS = 8;
    await h.openAccount('hot', DEPOSIT);
    await h.openAccount('hot-dest', 0);
    await h.restock('hot-sku', 100);

    const sagas = await Promise.all([
      ...Array.from({ length: TRANSFERS }, (_, i) =>
        h.startTransfer(`hot-${i}`, 'hot', 'hot-dest', TRANSFER_AMOUNT),
      ),
      ...Array.from({ length: ORDERS }, (_, i) =>
        h.placeOrder({
          orderId: `hot-${i}`,
          customerId: 'c-hot',
          paymentAccountId: 'hot',
          items: [{ sku: 'hot-sku', quantity: 1, unitPrice: PRICE }],
        }),
      ),
    ]);
    const results = await Promise.all(sagas.map((s) => h.result(s.sagaId)));
    const transfers = results.slice(0, TRANSFERS);
    const orders = results.slice(TRANSFERS);

    // Everything either went through or was refused for lack of money: nothing crashed.
    for (const r of transfers) {
      expect(['COMPLETED', 'FAILED']).toContain(r.outcome);
      if (r.outcome === 'FAILED') expect(r.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    }
    for (const r of orders) {
      expect(['COMPLETED', 'CANCELLED']).toContain(r.outcome);
      if (r.outcome === 'CANCELLED') expect(r.reason).toMatch(/^INSUFFICIENT_FUNDS/);
    }
    const transfersDone = transfers.filter((r) => r.outcome === 'COMPLETED').length;
    const ordersDone = orders.filter((r) => r.outcome === 'COMPLETED').length;
    const spent = transfersDone * TRANSFER_AMOUNT + ordersDone * PRICE;
    // The demand (20,000) exceeds the deposit: some were refused, and what went through fits.
    expect(transfersDone + ordersDone).toBeLessThan(TRANSFERS + ORDERS);
    expect(spent).toBeLessThanOrEqual(DEPOSIT);
    // Refused only when the money really was short: the cheapest request no longer fits.
    expect(DEPOSIT - spent).toBeLessThan(PRICE);

    // Every balanceAfter in the stream is >= 0 and follows from the one before.
    const hot = await checkAccount(h.db.eventStore, 'hot');
    expect(hot.balance).toBe(DEPOSIT - spent);
    expect(hot.events.filter((e) => e.type === 'AccountDebited')).toHaveLength(
      transfersDone + ordersDone,
    );
    expect((await checkAccount(h.db.eventStore, 'hot-dest')).balance).toBe(
      transfersDone * TRANSFER_AMOUNT,
    );

    // Money is conserved across the whole store: balances add up to what was deposited.
    const accountIds = new Set(
      (await allEvents(h))
        .filter((e) => e.streamType === 'account')
        .map((e) => e.streamId.slice('account-'.length)),
    );
    expect(accountIds).toContain(MERCHANT);
    let balances = 0;
    let deposits = 0;
    for (const accountId of accountIds) {
      const account = await checkAccount(h.db.eventStore, accountId);
      balances += account.balance;
      deposits += account.deposited;
    }
    expect(balances).toBe(deposits);

    // The stock of refused orders went back.
    expect(await checkInventory(h.db.eventStore, 'hot-sku')).toMatchObject({
      received: 100,
      available: 100 - ordersDone,
      reserved: 0,
      committed: ordersDone,
    });
  });
});
