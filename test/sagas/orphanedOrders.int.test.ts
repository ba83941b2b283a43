import { OrphanedOrderReconciler } from '../../src/application/orphanedOrderReconciler';
import { orderDecider } from '../../src/domain/order';
import { ALL_PROJECTIONS, createInlineProjector } from '../../src/projections';
import { SagaHarness } from '../support/sagaHarness';

describe('orders whose saga never started', () => {
  const h = new SagaHarness('orphans', {
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS),
    }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('are found after the grace period and get their saga, exactly once', async () => {
    await h.openAccount('orphan-acct', 10_000);
    await h.restock('orphan-sku', 5);
    // The API appended OrderPlaced and died before starting the saga.
    await h.commands.handle(
      orderDecider,
      'orphan-1',
      {
        type: 'PlaceOrder',
        data: {
          orderId: 'orphan-1',
          customerId: 'c-orphan',
          paymentAccountId: 'orphan-acct',
          items: [{ sku: 'orphan-sku', quantity: 1, unitPrice: 1_000 }],
          shippingAddress: { name: 'N', line1: 'L', city: 'C', postalCode: 'P', country: 'GB' },
        },
        metadata: { now: new Date().toISOString() },
      },
      { commandId: 'place-order/orphan-1', correlationId: 'corr-orphan' },
    );
    const reconciler = new OrphanedOrderReconciler(h.db.pool, h.db.eventStore, h.starterDeps, {
      graceSeconds: 0,
    });
    // A placed order whose saga runs is left alone.
    const { sagaId: runningSaga } = await h.placeOrder({
      orderId: 'orphan-2',
      customerId: 'c-orphan',
      paymentAccountId: 'orphan-acct',
      items: [{ sku: 'orphan-sku', quantity: 1, unitPrice: 1_000 }],
    });

    const started = await reconciler.reconcileOnce();
    expect(started).toEqual(['orphan-1']);
    expect((await h.result('order-orphan-1')).outcome).toBe('COMPLETED');
    await h.result(runningSaga);
    expect(await reconciler.reconcileOnce()).toEqual([]);
    const attributes = await h.searchAttributes(
      'order-orphan-1',
      (a) => a.CorrelationId !== undefined,
    );
    expect(attributes.CorrelationId).toBe('corr-orphan');
  });
});
