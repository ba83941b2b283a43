import { Metrics } from '../../src/observability/metrics';
import { ALL_PROJECTIONS, countSagasByStatus, createInlineProjector } from '../../src/projections';
import { SagaHarness } from '../support/sagaHarness';

describe('saga outcome metrics', () => {
  const h = new SagaHarness('saga_metrics', {
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
    }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('counts sagas by type and status from the read models, whichever process ran them', async () => {
    await h.openAccount('m-acct', 5_000);
    await h.restock('m-sku', 1);
    const ok = await h.placeOrder({
      orderId: 'm-ok',
      customerId: 'c-m',
      paymentAccountId: 'm-acct',
      items: [{ sku: 'm-sku', quantity: 1, unitPrice: 100 }],
    });
    const short = await h.placeOrder({
      orderId: 'm-short',
      customerId: 'c-m',
      paymentAccountId: 'm-acct',
      items: [{ sku: 'm-sku', quantity: 5, unitPrice: 100 }],
    });
    await h.result(ok.sagaId);
    await h.result(short.sagaId);
    const transfer = await h.startTransfer('m-t', 'm-acct', 'merchant-revenue', 50);
    await h.result(transfer.sagaId);

    const metrics = new Metrics({
      defaultMetrics: false,
      sagaCounts: () => countSagasByStatus(h.db.pool),
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('sagaflow_sagas{saga_type="orderFulfillment",status="COMPLETED"} 1');
    expect(text).toContain('sagaflow_sagas{saga_type="orderFulfillment",status="CANCELLED"} 1');
    expect(text).toContain('sagaflow_sagas{saga_type="moneyTransfer",status="COMPLETED"} 1');
  });
});
