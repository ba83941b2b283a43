import { orderDecider, type OrderItem } from '../../src/domain/order';
import { checkAccount, checkInventory } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 100;
const address = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1',
  country: 'GB',
};

/**
 * The order a saga charges for is the order as stored. A client retry whose order id (from
 * its idempotency key) reaches an order placed by an earlier attempt must never start a
 * saga from the retry's own body.
 */
describe('order sagas start from the stored order', () => {
  const h = new SagaHarness('order_input');
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  /** The first attempt placed the order, then failed before its saga started (Temporal down). */
  const placeWithoutSaga = (orderId: string, paymentAccountId: string, items: OrderItem[]) =>
    h.commands.handle(
      orderDecider,
      orderId,
      {
        type: 'PlaceOrder',
        data: { orderId, customerId: 'c-retry', paymentAccountId, items, shippingAddress: address },
        metadata: { now: new Date().toISOString() },
      },
      { commandId: `place-order/${orderId}` },
    );

  const sagaExists = (sagaId: string) =>
    h.client.workflow
      .getHandle(sagaId)
      .describe()
      .then(
        () => true,
        () => false,
      );

  it('a retry with another body reaching a placed order is refused (409 code), and no saga starts', async () => {
    await h.openAccount('retry-other-cust', 1_000_000);
    await h.restock('retry-other-sku', 100);
    await placeWithoutSaga('retry-other', 'retry-other-cust', [
      { sku: 'retry-other-sku', quantity: 1, unitPrice: PRICE },
    ]);

    const retry = h.placeOrder({
      orderId: 'retry-other',
      customerId: 'c-retry',
      paymentAccountId: 'retry-other-cust',
      items: [{ sku: 'retry-other-sku', quantity: 50, unitPrice: 9_999 }],
    });
    await expect(retry).rejects.toMatchObject({
      name: 'DomainRejection',
      code: 'ORDER_ALREADY_PLACED_DIFFERENTLY',
    });
    expect(await sagaExists('order-retry-other')).toBe(false);
    expect((await checkAccount(h.db.eventStore, 'retry-other-cust')).balance).toBe(1_000_000);
    expect(await h.eventTypes('order-retry-other')).toEqual(['OrderPlaced']);
  });

  it('a retry with the same body starts the saga from the stored order, charging its total', async () => {
    await h.openAccount('retry-same-cust', 10_000);
    await h.restock('retry-same-sku', 10);
    const items = [{ sku: 'retry-same-sku', quantity: 3, unitPrice: PRICE }];
    await placeWithoutSaga('retry-same', 'retry-same-cust', items);
    const merchantBefore = await h.balance(MERCHANT);

    const { sagaId, total } = await h.placeOrder({
      orderId: 'retry-same',
      customerId: 'c-retry',
      paymentAccountId: 'retry-same-cust',
      items,
    });
    expect(total).toBe(300);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect((await checkAccount(h.db.eventStore, 'retry-same-cust')).balance).toBe(10_000 - 300);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + 300);
    expect(await checkInventory(h.db.eventStore, 'retry-same-sku')).toMatchObject({
      available: 7,
      committed: 3,
    });
  });

  it('an order repeating a SKU on two lines is refused by the domain; nothing is charged', async () => {
    await h.openAccount('repeat-cust', 10_000);
    await h.restock('repeat-sku', 10);
    const placing = h.placeOrder({
      orderId: 'repeat',
      customerId: 'c-repeat',
      paymentAccountId: 'repeat-cust',
      items: [
        { sku: 'repeat-sku', quantity: 1, unitPrice: PRICE },
        { sku: 'repeat-sku', quantity: 5, unitPrice: PRICE },
      ],
    });
    await expect(placing).rejects.toMatchObject({
      name: 'DomainRejection',
      code: 'INVALID_REPEATED_SKU',
      details: { sku: 'repeat-sku', line: 1, firstLine: 0 },
    });
    expect(await h.eventTypes('order-repeat')).toEqual([]);
    expect(await sagaExists('order-repeat')).toBe(false);
    expect((await checkAccount(h.db.eventStore, 'repeat-cust')).balance).toBe(10_000);
  });

  it('each line has step ids of its own: reserve/<line>/<sku>, commit/<line>/<sku>', async () => {
    await h.openAccount('lines-cust', 10_000);
    await h.restock('lines-a', 10);
    await h.restock('lines-b', 10);
    const { sagaId } = await h.placeOrder({
      orderId: 'lines',
      customerId: 'c-lines',
      paymentAccountId: 'lines-cust',
      items: [
        { sku: 'lines-a', quantity: 1, unitPrice: PRICE },
        { sku: 'lines-b', quantity: 2, unitPrice: PRICE },
      ],
    });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const commandIds = async (sku: string) =>
      (await h.db.eventStore.readStream(`inventory-${sku}`))
        .filter((e) => e.type !== 'StockRestocked')
        .map((e) => e.metadata.command_id);
    expect(await commandIds('lines-a')).toEqual([
      'order-lines/reserve/0/lines-a',
      'order-lines/commit/0/lines-a',
    ]);
    expect(await commandIds('lines-b')).toEqual([
      'order-lines/reserve/1/lines-b',
      'order-lines/commit/1/lines-b',
    ]);
  });
});
