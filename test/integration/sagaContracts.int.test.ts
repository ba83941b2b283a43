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
    await h.openAccount('cust-poor', 100);
    await h.restock('sku-plenty', 1_000);
    await h.restock('sku-last', 2);
    await h.restock('sku-few', 1);

    const happy = await order('happy', 'cust-rich', 'sku-plenty', 2);
    const last = await order('last', 'cust-rich', 'sku-last', 2);
    const nostock = await order('nostock', 'cust-rich', 'sku-few', 5);
    const poor = await order('poor', 'cust-poor', 'sku-plenty', 1);
    const far = await h.placeOrder({
      orderId: 'far',
      customerId: 'c-far',
      paymentAccountId: 'cust-rich',
      items: [{ sku: 'sku-plenty', quantity: 1, unitPrice: PRICE }],
      country: 'KP',
    });
    const slow = await order('slow', 'cust-rich', 'sku-plenty', 60);
    const big = await order('big', 'cust-rich', 'sku-plenty', 60);
    await h.waitForStatus(big.sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await h.client.workflow.getHandle(big.sagaId).signal('approve', { approvedBy: 'ops' });

    await h.openAccount('t-a', 5_000);
    await h.openAccount('t-b', 0);
    await h.openAccount('t-frozen', 0);
    await h.freeze('t-frozen');
    const transferOk = await h.startTransfer('ok', 't-a', 't-b', 1_200);
    const transferPoor = await h.startTransfer('poor', 't-b', 't-a', 1_000_000);
    const transferFrozen = await h.startTransfer('frozen', 't-a', 't-frozen', 700);

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
    expect(ofOrder('happy')).toEqual([
      'order.placed.v1',
      'payment.captured.v1',
      'shipment.dispatched.v1',
      'order.completed.v1',
    ]);
    expect(dataOf('order.completed.v1', 'happy')).toEqual({
      orderId: 'happy',
      customerId: 'c-happy',
      total: 2 * PRICE,
      currency: 'EUR',
      completedAt: expect.any(String) as string,
    });
    expect(dataOf('payment.captured.v1', 'happy')).toMatchObject({
      accountId: 'cust-rich',
      amount: 2 * PRICE,
    });
    expect(dataOf('shipment.dispatched.v1', 'happy')).toMatchObject({
      orderId: 'happy',
      shipmentId: 'happy',
    });
    expect(ofOrder('big')).toEqual(ofOrder('happy'));
  });

  it('the last units of a SKU: stock.depleted once, between placed and completed', () => {
    const depleted = messages.filter((m) => m.message.type === 'stock.depleted.v1');
    expect(depleted.map((m) => m.message.subject)).toEqual(['sku-last']);
    const types = messages
      .filter(
        (m) =>
          m.subject.startsWith('sagaflow.order.last.') || m.subject.startsWith('sagaflow.stock.'),
      )
      .map((m) => m.message.type);
    expect(types).toEqual(['order.placed.v1', 'stock.depleted.v1', 'order.completed.v1']);
  });

  it.each([
    ['nostock', 'INSUFFICIENT_STOCK'],
    ['poor', 'INSUFFICIENT_FUNDS'],
    ['slow', 'APPROVAL_TIMED_OUT'],
  ])('a cancelled order (%s): placed, cancelled with %s, no payment', (orderId, reasonCode) => {
    expect(ofOrder(orderId)).toEqual(['order.placed.v1', 'order.cancelled.v1']);
    expect(dataOf('order.cancelled.v1', orderId)).toMatchObject({
      customerId: `c-${orderId}`,
      reasonCode,
    });
  });

  it('an order to an unserved country is cancelled', () => {
    expect(ofOrder('far')).toEqual(['order.placed.v1', 'order.cancelled.v1']);
  });

  it('transfers: completed, failed (nothing taken), failed (refunded)', () => {
    expect(ofTransfer('ok')).toEqual(['transfer.completed.v1']);
    expect(ofTransfer('poor')).toEqual(['transfer.failed.v1']);
    expect(ofTransfer('frozen')).toEqual(['transfer.failed.v1']);
    expect(dataOf('transfer.failed.v1', 'frozen')).toMatchObject({
      fromAccountId: 't-a',
      toAccountId: 't-frozen',
      amount: 700,
      reasonCode: 'ACCOUNT_FROZEN',
    });
  });

  it('nothing else, each message once, Nats-Msg-Id = message id, per-aggregate order by source version', () => {
    const counted = new Set(
      ['happy', 'big', 'last', 'nostock', 'poor', 'slow', 'far'].flatMap((id) =>
        ofOrder(id).map((t) => `${id}/${t}`),
      ),
    );
    const transfers = ['ok', 'poor', 'frozen'].flatMap(ofTransfer);
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
      (m) => m.message.type === 'order.placed.v1' && m.message.subject === 'happy',
    )!;
    expect(placed.message).toMatchObject({
      specversion: '1.0',
      source: 'urn:sagaflow',
      sourcestream: 'order-happy',
      sourceversion: 1,
      correlationid: 'corr-happy',
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
