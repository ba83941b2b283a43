import { randomUUID } from 'node:crypto';
import { checkInvariants, type InvariantInput } from '../../scripts/chaos/invariants';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const SKU = 'twice';
const ORDER = 'o-twice';

/**
 * The chaos harness's stock invariants must not assume one line per SKU. The store below
 * holds what defect 2 produced before PlaceOrder refused repeated SKUs: lines SKU×1 and
 * SKU×5, charged 600, reserved and committed once (1 unit).
 */
describe('chaos stock invariants', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('stock_invariants');
    const append = (streamId: string, version: number, type: string, data: object) =>
      db.eventStore.append(streamId, [{ eventId: randomUUID(), type, data }], {
        expectedVersion: version,
      });
    await append(`inventory-${SKU}`, 0, 'StockRestocked', {
      sku: SKU,
      quantity: 10,
      reference: 'r-1',
    });
    await append(`order-${ORDER}`, 0, 'OrderPlaced', {
      orderId: ORDER,
      customerId: 'c-1',
      paymentAccountId: 'acc-1',
      items: [
        { sku: SKU, quantity: 1, unitPrice: 100, currency: 'EUR' },
        { sku: SKU, quantity: 5, unitPrice: 100, currency: 'EUR' },
      ],
      total: 600,
      shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
      placedAt: new Date().toISOString(),
    });
    await append(`inventory-${SKU}`, 1, 'StockReserved', { sku: SKU, orderId: ORDER, quantity: 1 });
    await append(`inventory-${SKU}`, 2, 'ReservationCommitted', {
      sku: SKU,
      orderId: ORDER,
      quantity: 1,
    });
  });
  afterAll(() => db?.drop());

  const run = () =>
    checkInvariants({
      pool: db.pool,
      store: db.eventStore,
      sagas: [
        {
          kind: 'order',
          key: 'k-1',
          id: ORDER,
          sagaId: `order-${ORDER}`,
          amount: 600,
          lines: [
            { sku: SKU, quantity: 1 },
            { sku: SKU, quantity: 5 },
          ],
          finalStatus: 'COMPLETED',
        },
      ],
      depositsSent: 0,
      restockedSent: { [SKU]: 10 },
      distinctKeys: 1,
      temporalWorkflowCount: 1,
      merchantAccountId: 'merchant',
    } satisfies InvariantInput);

  it('flags the order that repeats a SKU, and the stock that covers one line of it', async () => {
    const { checks, figures } = await run();
    const named = (prefix: string) => checks.find((c) => c.name.startsWith(prefix));
    expect(named('at most one StockReserved')?.ok).toBe(false);
    expect(figures['orders repeating a SKU on two lines']).toBe(1);
    const orderStock = named('order stock matches outcome');
    expect(orderStock?.ok).toBe(false);
    // Compared with the order's whole quantity of the SKU (6), not line by line.
    expect(orderStock?.detail).toMatch(/"quantity":6/);
  });
});
