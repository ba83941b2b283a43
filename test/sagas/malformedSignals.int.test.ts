import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { checkAccount, checkInventory } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000;
const LARGE = 60; // 60 x 10.00 is above the harness's approval threshold

/**
 * What an operator can type into the Temporal UI's "Send a signal" box, or `temporal
 * workflow signal --input`: any JSON, any signal name, or bytes that are not JSON at all.
 * None of it may fail the saga's workflow task (a failing task retries forever: the saga
 * is stuck) or move money or stock.
 */
describe('signals with malformed input', () => {
  const h = new SagaHarness('malformed_signals', { config: { APPROVAL_TIMEOUT: '120s' } });
  // The harness's worker is production's: tolerant payload converter, interceptors bundled.
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  const encoder = new TextEncoder();
  const json = (value: unknown): temporal.api.common.v1.IPayload => ({
    metadata: { encoding: encoder.encode('json/plain') },
    data: encoder.encode(JSON.stringify(value)),
  });

  /** Sends a signal with raw payloads, as the CLI or the UI would, bypassing the typed client. */
  async function sendRawSignal(
    sagaId: string,
    signalName: string,
    payloads: temporal.api.common.v1.IPayload[],
  ) {
    await h.client.workflowService.signalWorkflowExecution({
      namespace: h.client.options.namespace,
      workflowExecution: { workflowId: sagaId },
      signalName,
      input: { payloads },
      identity: 'operator@temporal-ui',
      requestId: randomUUID(),
    });
  }

  async function workflowTaskFailures(sagaId: string): Promise<number> {
    const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
    return (history.events ?? []).filter(
      (event) =>
        event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    ).length;
  }

  it('junk signals to an order awaiting approval change nothing and fail no workflow task', async () => {
    await h.openAccount('junk-cust', 100_000);
    await h.restock('junk-sku', 100);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'junk',
      customerId: 'c-junk',
      paymentAccountId: 'junk-cust',
      items: [{ sku: 'junk-sku', quantity: LARGE, unitPrice: PRICE }],
    });
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');

    await sendRawSignal(sagaId, 'no-such-signal', [json({ approve: true })]);
    await sendRawSignal(sagaId, 'retryCompensation', [json(42), json('x'), json([null])]);
    await sendRawSignal(sagaId, 'approve', [
      { metadata: { encoding: encoder.encode('json/plain') }, data: encoder.encode('{not json') },
    ]);
    await sendRawSignal(sagaId, 'approve', [
      { metadata: { encoding: encoder.encode('binary/unknown') }, data: encoder.encode('??') },
    ]);
    // A query answers only once the signals before it were processed.
    const status = await h.waitForStatus(sagaId, () => true);
    expect(status.status).toBe('AWAITING_APPROVAL');
    expect(await workflowTaskFailures(sagaId)).toBe(0);
    expect((await checkAccount(h.db.eventStore, 'junk-cust')).balance).toBe(100_000);
    expect(await checkInventory(h.db.eventStore, 'junk-sku')).toMatchObject({ reserved: LARGE });

    // The CLI's `temporal workflow update execute --name cancelOrder --input null`: the
    // handler trips over the input; the update fails with the reason, the saga carries on.
    const update = await h.client.workflow
      .getHandle(sagaId)
      .executeUpdate('cancelOrder', { args: [null] })
      .then(
        () => undefined,
        (error: unknown) => error as Error & { cause?: Error },
      );
    expect(update?.name).toBe('WorkflowUpdateFailedError');
    expect(update?.cause?.message).toMatch(/^update cancelOrder failed on its input/);
    expect(await workflowTaskFailures(sagaId)).toBe(0);
    expect((await h.status(sagaId)).status).toBe('AWAITING_APPROVAL');

    // approve carries nothing the saga records: a number, or a huge object, still approves,
    // and the order is charged exactly once.
    await sendRawSignal(sagaId, 'approve', [json(7)]);
    await sendRawSignal(sagaId, 'approve', [json({ approvedBy: 'x'.repeat(200_000), n: 1 })]);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(await workflowTaskFailures(sagaId)).toBe(0);
    expect((await checkAccount(h.db.eventStore, 'junk-cust')).balance).toBe(100_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantBefore + total);
    expect(await checkInventory(h.db.eventStore, 'junk-sku')).toMatchObject({
      available: 100 - LARGE,
      reserved: 0,
      committed: LARGE,
    });
  });
});
