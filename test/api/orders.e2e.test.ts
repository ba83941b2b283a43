/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- assertions on JSON response bodies */
import './support/esmShim';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import { ALL_PROJECTIONS, createInlineProjector } from '../../src/projections';
import { SagaHarness } from '../support/sagaHarness';
import { orderBody } from './support/apiApp';

/** The whole path over HTTP: POST /orders → saga on a real worker → read model → GET. */
const harness = new SagaHarness('api_e2e', {
  commandHandlerOptions: (db) => ({
    afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
  }),
});
let app: FastifyInstance;

beforeAll(async () => {
  await harness.start();
  app = buildApp(
    {
      pool: harness.db.pool,
      eventStore: harness.db.eventStore,
      commands: harness.commands,
      temporal: harness.client,
      config: { ...harness.config, LOG_LEVEL: 'silent', TEMPORAL_UI_URL: 'http://localhost:8233' },
      readModels: projectionReadModels(harness.db.eventStore),
    },
    { swaggerUi: false },
  );
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await harness.stop();
});

async function waitForOrder(orderId: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await app.inject({ method: 'GET', url: `/orders/${orderId}` });
    if (response.statusCode === 200 && response.json().status === status) return response.json();
    if (Date.now() > deadline) throw new Error(`order ${orderId}: ${response.body}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('POST /orders → saga completes → GET /orders/{id} shows COMPLETED', async () => {
  await app.inject({
    method: 'POST',
    url: '/accounts',
    payload: { ownerId: 'c-1', accountId: 'e2e-pay', initialDeposit: 10_000 },
  });
  await app.inject({
    method: 'POST',
    url: '/inventory/E2E-SKU/restock',
    payload: { quantity: 10 },
  });

  const placed = await app.inject({
    method: 'POST',
    url: '/orders',
    headers: { 'idempotency-key': 'e2e-1', 'x-correlation-id': 'e2e-corr-1' },
    payload: orderBody({
      customerId: 'c-1',
      paymentAccountId: 'e2e-pay',
      items: [{ sku: 'E2E-SKU', quantity: 2, unitPrice: 1500 }],
    }),
  });
  expect(placed.statusCode).toBe(202);
  const { orderId, sagaId, position, links } = placed.json();
  expect(links.saga).toBe(`/orders/${orderId}/saga`);

  // Read-your-writes: the order is there at once.
  const fresh = await app.inject({
    method: 'GET',
    url: `/orders/${orderId}?minPosition=${position}`,
  });
  expect(fresh.statusCode).toBe(200);
  expect(fresh.headers['x-read-model-stale']).toBeUndefined();

  const order = await waitForOrder(orderId, 'COMPLETED');
  expect(order).toMatchObject({ orderId, customerId: 'c-1', total: 3000, sagaId });

  // The read model may show COMPLETED a moment before the workflow closes.
  await harness.result(sagaId);
  const saga = (await app.inject({ method: 'GET', url: `/orders/${orderId}/saga` })).json();
  expect(saga).toMatchObject({
    sagaId,
    workflowStatus: 'COMPLETED',
    outcome: 'COMPLETED',
    status: 'COMPLETED',
  });
  expect(saga.temporalUiUrl).toBe(`http://localhost:8233/namespaces/default/workflows/${sagaId}`);
  // Closed or not, the same shape as the `status` query in the Temporal UI's Queries tab.
  expect(saga).toEqual({
    ...(await harness.status(sagaId)),
    sagaId,
    runId: expect.any(String),
    workflowStatus: 'COMPLETED',
    temporalUiUrl: saga.temporalUiUrl,
  });
  expect(saga.completedSteps).toContain('charge customer');

  const account = (await app.inject({ method: 'GET', url: '/accounts/e2e-pay' })).json();
  expect(account.balance).toBe(7000);
  const listed = (
    await app.inject({ method: 'GET', url: '/orders?customerId=c-1&status=COMPLETED' })
  ).json();
  expect(listed.items.map((o: { orderId: string }) => o.orderId)).toContain(orderId);

  // The correlation id reached the events the saga wrote.
  const events = await harness.db.eventStore.readStream(`order-${orderId}`);
  expect(events.every((e) => e.metadata.correlation_id === 'e2e-corr-1')).toBe(true);

  // Cancel after completion: the saga has finished.
  const cancel = await app.inject({
    method: 'POST',
    url: `/orders/${orderId}/cancel`,
    payload: {},
  });
  expect(cancel.statusCode).toBe(409);
});

test('large order waits for approval; POST approve completes it', async () => {
  await app.inject({
    method: 'POST',
    url: '/accounts',
    payload: { ownerId: 'c-2', accountId: 'e2e-rich', initialDeposit: 1_000_000 },
  });
  await app.inject({
    method: 'POST',
    url: '/inventory/E2E-BIG/restock',
    payload: { quantity: 10 },
  });
  const placed = await app.inject({
    method: 'POST',
    url: '/orders',
    payload: orderBody({
      customerId: 'c-2',
      paymentAccountId: 'e2e-rich',
      items: [{ sku: 'E2E-BIG', quantity: 1, unitPrice: 60_000 }],
    }),
  });
  const { orderId, sagaId } = placed.json();
  await harness.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
  const live = (await app.inject({ method: 'GET', url: `/orders/${orderId}/saga` })).json();
  expect(live).toMatchObject({
    workflowStatus: 'RUNNING',
    status: 'AWAITING_APPROVAL',
    outcome: 'RUNNING',
  });

  const approve = await app.inject({
    method: 'POST',
    url: `/orders/${orderId}/approve`,
    payload: { approvedBy: 'boss' },
  });
  expect(approve.statusCode).toBe(202);
  await waitForOrder(orderId, 'COMPLETED');
});

test('cancel while awaiting approval is accepted; the saga compensates', async () => {
  await app.inject({
    method: 'POST',
    url: '/inventory/E2E-CXL/restock',
    payload: { quantity: 10 },
  });
  const placed = await app.inject({
    method: 'POST',
    url: '/orders',
    payload: orderBody({
      customerId: 'c-2',
      paymentAccountId: 'e2e-rich',
      items: [{ sku: 'E2E-CXL', quantity: 1, unitPrice: 70_000 }],
    }),
  });
  const { orderId, sagaId } = placed.json();
  await harness.waitForStatus(sagaId, (s) => s.status === 'AWAITING_APPROVAL');
  const cancel = await app.inject({
    method: 'POST',
    url: `/orders/${orderId}/cancel`,
    payload: { reason: 'changed my mind' },
  });
  expect(cancel.statusCode).toBe(200);
  expect(cancel.json()).toMatchObject({ accepted: true });
  await waitForOrder(orderId, 'CANCELLED');
});
