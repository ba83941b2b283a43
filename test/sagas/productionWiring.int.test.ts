import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { checkAccount } from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000;

/**
 * The harness's worker is wired as production's (sagaWorkerParts): no test adds the guard,
 * the payload converter or the interceptors itself. The recorder below only records the
 * credits that reach the activities on the event store, to show where fault wrappers sit.
 */
describe('the saga harness runs the production worker', () => {
  const creditsReachingTheStore: string[] = [];
  const h = new SagaHarness('production_wiring', {
    config: { APPROVAL_TIMEOUT: '120s' },
    wrapActivities: (real) => ({
      ...real,
      creditAccount: (input) => {
        creditsReachingTheStore.push(`${input.reference} -> ${input.accountId}`);
        return real.creditAccount(input);
      },
    }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  async function placeOrder(orderId: string, quantity: number) {
    await h.openAccount(`${orderId}-cust`, 100_000);
    await h.restock(`${orderId}-sku`, 100);
    return h.placeOrder({
      orderId,
      customerId: `c-${orderId}`,
      paymentAccountId: `${orderId}-cust`,
      items: [{ sku: `${orderId}-sku`, quantity, unitPrice: PRICE }],
    });
  }

  it('the unbacked-move guard refuses an edited second start, before any fault wrapper', async () => {
    const { sagaId, total } = await placeOrder('wired-edit', 2);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const merchantAfterFirstRun = await h.balance(MERCHANT);
    await h.openAccount('wired-pocket', 0);

    // "Start Workflow Like This One" with another merchant account typed into the input.
    const first = await h.client.workflow.getHandle(sagaId).fetchHistory();
    const started = first.events?.[0]?.workflowExecutionStartedEventAttributes;
    const { payloadConverter } = h.client.options.loadedDataConverter;
    await h.client.workflow.start('orderFulfillment', {
      workflowId: sagaId,
      taskQueue: h.taskQueue,
      args: (started?.input?.payloads ?? []).map((payload) => ({
        ...payloadConverter.fromPayload<Record<string, unknown>>(payload),
        merchantAccountId: 'wired-pocket',
      })),
    });
    const parked = await h.waitForStatus(sagaId, (s) => s.status === 'FORWARD_STEP_FAILED');
    expect(parked.failureReason).toMatch(/^SAGA_INPUT_MISMATCH/);
    expect((await checkAccount(h.db.eventStore, 'wired-pocket')).balance).toBe(0);
    expect((await checkAccount(h.db.eventStore, 'wired-edit-cust')).balance).toBe(100_000 - total);
    expect(await h.balance(MERCHANT)).toBe(merchantAfterFirstRun);
    // Fault wrappers sit inside the guard, as FAULT_INJECTION does in production.
    expect(creditsReachingTheStore).toEqual([`order-wired-edit/revenue -> ${MERCHANT}`]);
    await h.client.workflow.getHandle(sagaId).terminate('an edited second start');
  });

  it('a signal that is not JSON is dropped without failing a workflow task', async () => {
    const { sagaId } = await placeOrder('wired-junk', 60); // above the approval threshold
    await h.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
    await h.client.workflowService.signalWorkflowExecution({
      namespace: h.client.options.namespace,
      workflowExecution: { workflowId: sagaId },
      signalName: 'approve',
      input: {
        payloads: [
          {
            metadata: { encoding: new TextEncoder().encode('json/plain') },
            data: new TextEncoder().encode('{not json'),
          },
        ],
      },
      identity: 'operator@temporal-ui',
      requestId: randomUUID(),
    });
    // A query answers only once the signal before it was processed.
    expect((await h.status(sagaId)).status).toBe('AWAITING_APPROVAL');
    const history = await h.client.workflow.getHandle(sagaId).fetchHistory();
    const taskFailures = (history.events ?? []).filter(
      (event) =>
        event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    );
    expect(taskFailures).toEqual([]);
    await h.client.workflow.getHandle(sagaId).signal('approve');
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
  });
});
