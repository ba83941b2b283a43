import { setTimeout as sleep } from 'node:timers/promises';
import { placeOrderAndStartSaga } from '../../src/application/sagaStarter';
import { shipmentDeliveredSignal } from '../../workflows/delivery';
import { SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000;

/**
 * After dispatch the order saga waits for the carrier's delivery confirmation (the
 * `shipmentDelivered` signal the inbound consumer sends), then completes. Sent here
 * straight to the saga; test/integration/deliveryConsumer.int.test.ts sends it over NATS.
 */
describe('order saga: delivery confirmation', () => {
  const h = new SagaHarness('delivery_confirmation', {
    config: { DELIVERY_CONFIRMATION: 'carrier', DELIVERY_TIMEOUT: '3s' },
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  async function order(orderId: string) {
    await h.openAccount(`cust-${orderId}`, 100_000);
    await h.restock(`sku-${orderId}`, 10);
    return h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `cust-${orderId}`,
      items: [{ sku: `sku-${orderId}`, quantity: 1, unitPrice: PRICE }],
    });
  }
  const delivered = (orderId: string, messageId = `delivered-${orderId}`) => ({
    messageId,
    shipmentId: `shp-${orderId}`,
    deliveredAt: new Date().toISOString(),
  });
  const completions = async (orderId: string) =>
    (await h.eventTypes(`order-${orderId}`)).filter((t) => t === 'OrderCompleted').length;

  it('waits in DISPATCHED after dispatch, and a confirmation sent twice completes the order once', async () => {
    const { sagaId } = await order('dc-waits');
    await h.waitForStatus(sagaId, (s) => s.status === 'DISPATCHED' && s.currentStep === null);
    await sleep(1_000);
    expect((await h.status(sagaId)).status).toBe('DISPATCHED');
    expect(await completions('dc-waits')).toBe(0);
    const saga = h.client.workflow.getHandle(sagaId);
    await saga.signal(shipmentDeliveredSignal, delivered('dc-waits'));
    await saga.signal(shipmentDeliveredSignal, delivered('dc-waits'));
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED', status: 'COMPLETED' });
    expect(await completions('dc-waits')).toBe(1);
    expect(await h.sagaStatusUpdates(sagaId)).toEqual(['PAID', 'DISPATCHED', 'COMPLETED']);
  });

  it('keeps a confirmation that arrives before the saga waits for it', async () => {
    const { sagaId } = await order('dc-early');
    // Before the charge, long before dispatch.
    await h.client.workflow
      .getHandle(sagaId)
      .signal(shipmentDeliveredSignal, delivered('dc-early'));
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    expect(await completions('dc-early')).toBe(1);
    expect(await h.sagaStatusUpdates(sagaId)).not.toContain('DELIVERY_OVERDUE');
  });

  it('flags the order DELIVERY_OVERDUE past DELIVERY_TIMEOUT (not failed); a late confirmation completes it', async () => {
    const { sagaId } = await order('dc-late');
    const overdue = await h.waitForStatus(sagaId, (s) => s.status === 'DELIVERY_OVERDUE', 30_000);
    expect(overdue.outcome).toBe('RUNNING');
    const attributes = await h.searchAttributes(sagaId, (a) => a.SagaStatus === 'DELIVERY_OVERDUE');
    expect(attributes.SagaStatus).toBe('DELIVERY_OVERDUE');
    const types = await h.eventTypes('order-dc-late');
    expect(types).toContain('OrderDispatched');
    expect(types).not.toContain('OrderCancelled');
    expect(types).not.toContain('OrderCompleted');

    await h.client.workflow.getHandle(sagaId).signal(shipmentDeliveredSignal, delivered('dc-late'));
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
    expect(await completions('dc-late')).toBe(1);
    expect(await h.sagaStatusUpdates(sagaId)).toEqual([
      'PAID',
      'DISPATCHED',
      'DELIVERY_OVERDUE',
      'COMPLETED',
    ]);
  });

  it('completes at dispatch, with no confirmation, when the deployment has no carrier (DELIVERY_CONFIRMATION=none)', async () => {
    await h.openAccount('cust-dc-no-carrier', 100_000);
    await h.restock('sku-dc-no-carrier', 10);
    const { sagaId } = await placeOrderAndStartSaga(
      { ...h.starterDeps, config: { ...h.config, DELIVERY_CONFIRMATION: 'none' } },
      {
        orderId: 'dc-no-carrier',
        customerId: 'c-dc-no-carrier',
        paymentAccountId: 'cust-dc-no-carrier',
        items: [{ sku: 'sku-dc-no-carrier', quantity: 1, unitPrice: PRICE }],
        shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
        correlationId: 'corr-dc-no-carrier',
      },
    );
    expect(await h.result(sagaId)).toMatchObject({ outcome: 'COMPLETED' });
  });
});
