import { contractProblems } from '../../src/integration';
import { getRelayStatus } from '../../src/integration/relay/status';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { DEFAULT_PERSONAL_DATA_POLICY } from '../../src/eventstore/personalData/policy';
import type { StoredMessage } from '../support/nats';
import { startTestNatsServer, type TestNats } from '../support/nats';
import { SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000;

/**
 * Every saga path publishes exactly the contracts it should, in per-aggregate order, with a
 * valid envelope and no personal field; read back from a real JetStream stream.
 */
describe('integration events of every saga path', () => {
  const h = new SagaHarness('saga_contracts');
  let nats: TestNats;
  let relay: IntegrationRelay;
  let messages: StoredMessage[];

  beforeAll(async () => {
    await h.start();
    nats = await startTestNatsServer();
    relay = new IntegrationRelay({
      pool: h.db.pool,
      eventStore: h.db.eventStore,
      nats: await nats.connect('relay'),
      pollIntervalMs: 100,
      batchSize: 7, // several pages per run
    });
    await relay.start();

    const order = (orderId: string, account: string, sku: string, quantity: number) =>
      h.placeOrder({
        orderId,
        customerId: `c-${orderId}`,
        paymentAccountId: account,
        items: [{ sku, quantity, unitPrice: PRICE }],
      });
    await h.openAccount('cust-rich', 10_000_000);
    await h.openAccount('cust-icpoor', 100);
    await h.restock('sku-plenty', 1_000);
    await h.restock('sku-iclast', 2);
    await h.restock('sku-few', 1);

    const happy = await order('ichappy', 'cust-rich', 'sku-plenty', 2);
    const last = await order('iclast', 'cust-rich', 'sku-iclast', 2);
    const nostock = await order('icnostock', 'cust-rich', 'sku-few', 5);
    const poor = await order('icpoor', 'cust-icpoor', 'sku-plenty', 1);
    const far = await h.placeOrder({
      orderId: 'icfar',
      customerId: 'c-icfar',
      paymentAccountId: 'cust-rich',
      items: [{ sku: 'sku-plenty', quantity: 1, unitPrice: PRICE }],
      country: 'KP',
    });
    const slow = await order('icslow', 'cust-rich', 'sku-plenty', 60);
    const big = await order('icbig', 'cust-rich', 'sku-plenty', 60);
    await h.waitForStatus(big.sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await h.client.workflow.getHandle(big.sagaId).signal('approve', { approvedBy: 'ops' });

    await h.openAccount('t-a', 5_000);
    await h.openAccount('t-b', 0);
    await h.openAccount('t-frozen', 0);
    await h.freeze('t-frozen');
    const transferOk = await h.startTransfer('icok', 't-a', 't-b', 1_200);
    const transferPoor = await h.startTransfer('icpoor', 't-b', 't-a', 1_000_000);
    const transferFrozen = await h.startTransfer('icfrozen', 't-a', 't-frozen', 700);

    for (const { sagaId } of [happy, last, nostock, poor, far, slow, big]) await h.result(sagaId);
    for (const { sagaId } of [transferOk, transferPoor, transferFrozen]) await h.result(sagaId);
    await waitUntilCaughtUp();
    messages = await nats.readAll();
  });
  afterAll(async () => {
    await relay?.stop();
    await nats?.stop();
    await h.stop();
  });

  async function waitUntilCaughtUp() {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await getRelayStatus(h.db.pool);
      if (status.lagEvents === 0 && status.state === 'running') return status;
      if (Date.now() > deadline) throw new Error(`relay lags: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Contract types of one order's messages (order, payment and its shipment), in stream order. */
  const ofOrder = (orderId: string) =>
    messages
      .filter((m) =>
        [
          `sagaflow.order.${orderId}.`,
          `sagaflow.payment.${orderId}.`,
          `sagaflow.shipment.${orderId}.`,
        ].some((prefix) => m.subject.startsWith(prefix)),
      )
      .map((m) => m.message.type);
  const ofTransfer = (transferId: string) =>
    messages
      .filter((m) => m.subject.startsWith(`sagaflow.transfer.${transferId}.`))
      .map((m) => m.message.type);
  const dataOf = (type: string, subject: string) =>
    messages.find((m) => m.message.type === type && m.message.subject === subject)?.message.data;

  it('a completed order: placed, captured, dispatched, completed', () => {
    expect(ofOrder('ichappy')).toEqual([
      'order.placed.v1',
      'payment.captured.v1',
      'shipment.dispatched.v1',
      'order.completed.v1',
    ]);
    expect(dataOf('order.completed.v1', 'ichappy')).toEqual({
      orderId: 'ichappy',
      customerId: 'c-ichappy',
      total: 2 * PRICE,
      currency: 'EUR',
      completedAt: expect.any(String) as string,
    });
    expect(dataOf('payment.captured.v1', 'ichappy')).toMatchObject({
      accountId: 'cust-rich',
      amount: 2 * PRICE,
    });
    expect(dataOf('shipment.dispatched.v1', 'ichappy')).toMatchObject({
      orderId: 'ichappy',
      shipmentId: 'ichappy',
    });
    expect(ofOrder('icbig')).toEqual(ofOrder('ichappy'));
  });

  it('the last units of a SKU: stock.depleted once, between placed and completed', () => {
    const depleted = messages.filter((m) => m.message.type === 'stock.depleted.v1');
    expect(depleted.map((m) => m.message.subject)).toEqual(['sku-iclast']);
    const types = messages
      .filter(
        (m) =>
          m.subject.startsWith('sagaflow.order.iclast.') || m.subject.startsWith('sagaflow.stock.'),
      )
      .map((m) => m.message.type);
    expect(types).toEqual(['order.placed.v1', 'stock.depleted.v1', 'order.completed.v1']);
  });

  it.each([
    ['icnostock', 'INSUFFICIENT_STOCK'],
    ['icpoor', 'INSUFFICIENT_FUNDS'],
    ['icslow', 'APPROVAL_TIMED_OUT'],
  ])('a cancelled order (%s): placed, cancelled with %s, no payment', (orderId, reasonCode) => {
    expect(ofOrder(orderId)).toEqual(['order.placed.v1', 'order.cancelled.v1']);
    expect(dataOf('order.cancelled.v1', orderId)).toMatchObject({
      customerId: `c-${orderId}`,
      reasonCode,
    });
  });

  it('an order to an unserved country is cancelled', () => {
    expect(ofOrder('icfar')).toEqual(['order.placed.v1', 'order.cancelled.v1']);
  });

  it('transfers: completed, failed (nothing taken), failed (refunded)', () => {
    expect(ofTransfer('icok')).toEqual(['transfer.completed.v1']);
    expect(ofTransfer('icpoor')).toEqual(['transfer.failed.v1']);
    expect(ofTransfer('icfrozen')).toEqual(['transfer.failed.v1']);
    expect(dataOf('transfer.failed.v1', 'icfrozen')).toMatchObject({
      fromAccountId: 't-a',
      toAccountId: 't-frozen',
      amount: 700,
      reasonCode: 'ACCOUNT_FROZEN',
    });
  });

  it('nothing else, each message once, Nats-Msg-Id = message id, per-aggregate order by source version', () => {
    const counted = new Set(
      ['ichappy', 'icbig', 'iclast', 'icnostock', 'icpoor', 'icslow', 'icfar'].flatMap((id) =>
        ofOrder(id).map((t) => `${id}/${t}`),
      ),
    );
    const transfers = ['icok', 'icpoor', 'icfrozen'].flatMap(ofTransfer);
    expect(messages).toHaveLength(counted.size + transfers.length + 1 /* stock.depleted */);
    expect(new Set(messages.map((m) => m.message.id)).size).toBe(messages.length);
    for (const m of messages) {
      expect(m.msgId).toBe(m.message.id);
      // Every published message matches its contract's schema (envelope and data).
      expect(contractProblems(m.message)).toEqual([]);
    }
    const lastVersion = new Map<string, number>();
    for (const { message } of messages) {
      const before = lastVersion.get(message.sourcestream) ?? 0;
      expect(message.sourceversion).toBeGreaterThan(before);
      lastVersion.set(message.sourcestream, message.sourceversion);
    }
  });

  it('envelopes carry the source, correlation and causation, and no personal field', () => {
    const placed = messages.find(
      (m) => m.message.type === 'order.placed.v1' && m.message.subject === 'ichappy',
    )!;
    expect(placed.message).toMatchObject({
      specversion: '1.0',
      source: 'urn:sagaflow',
      sourcestream: 'order-ichappy',
      sourceversion: 1,
      correlationid: 'corr-ichappy',
      causationid: expect.any(String) as string,
      time: expect.any(String) as string,
    });
    expect(BigInt(placed.message.globalposition)).toBeGreaterThan(0n);
    const text = JSON.stringify(messages);
    for (const secret of ['Ada Lovelace', 'Analytical', 'London', 'N1', 'shippingAddress']) {
      expect(text).not.toContain(secret);
    }
    const personalFields = Object.values(DEFAULT_PERSONAL_DATA_POLICY).flatMap(
      (rule) => rule.fields,
    );
    for (const field of personalFields) expect(text).not.toContain(`"${field.split('.').pop()!}"`);
  });
});
