/**
 * `npm run demo`: against a running Sagaflow (npm start), creates accounts and stock, then
 * runs orders and transfers through every path, waits for each outcome and prints where to
 * look. API_URL (default http://127.0.0.1:3000) and API_KEY (when API_KEYS is set) apply.
 * It also shows the other side of the bus: the successful order waits in DISPATCHED until
 * the (simulated) carrier confirms delivery, and the loyalty service (LOYALTY_URL, default
 * http://127.0.0.1:3100) credits the customer's points once it completes.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const API = (process.env.API_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const UI = (process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, '');
const LOYALTY = (process.env.LOYALTY_URL ?? 'http://127.0.0.1:3100').replace(/\/$/, '');
const run = randomUUID().slice(0, 6);

/** The customer's loyalty points, or undefined when the loyalty service does not answer. */
async function loyaltyPoints(customerId: string): Promise<number | undefined> {
  const response = await fetch(`${LOYALTY}/customers/${customerId}/points`).catch(() => undefined);
  if (!response?.ok) return undefined;
  return ((await response.json()) as { points: number }).points;
}

interface Problem {
  status: number;
  title?: string;
  detail?: string;
}

async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: {
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(process.env.API_KEY && { 'x-api-key': process.env.API_KEY }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = (text ? JSON.parse(text) : {}) as T & Problem;
  if (!response.ok) {
    const problem = parsed as Problem;
    throw new Error(
      `${method} ${path} → ${response.status} ${problem.title ?? ''} ${problem.detail ?? ''}`.trim(),
    );
  }
  return parsed;
}

const TERMINAL = new Set([
  'COMPLETED',
  'CANCELLED',
  'COMPENSATION_FAILED',
  'FAILED',
  'COMPENSATED',
]);

async function waitFor(
  path: string,
  accept: (status: string) => boolean,
  timeoutMs = 60_000,
): Promise<{ status: string; failureReason?: string | null; reason?: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await call<{ status: string }>('GET', path).catch(() => undefined);
    if (found && accept(found.status)) return found;
    if (Date.now() > deadline)
      throw new Error(`${path}: still ${found?.status ?? 'missing'} after ${timeoutMs} ms`);
    await sleep(300);
  }
}

async function openAccount(ownerId: string, initialDeposit: number): Promise<string> {
  const { accountId } = await call<{ accountId: string }>('POST', '/accounts', {
    ownerId,
    initialDeposit,
  });
  return accountId;
}

async function placeOrder(
  label: string,
  body: object,
): Promise<{ label: string; orderId: string }> {
  const { orderId } = await call<{ orderId: string }>('POST', '/orders', body, {
    'idempotency-key': `demo-${run}-${label}`,
  });
  return { label, orderId };
}

const address = (country: string) => ({
  name: 'Demo Customer',
  line1: '1 Demo Street',
  city: 'Demo City',
  postalCode: '1000',
  country,
});

async function main(): Promise<void> {
  await call('GET', '/health').catch(() => {
    throw new Error(`No Sagaflow API at ${API}: start it with npm start first`);
  });
  console.log(`Demo run ${run} against ${API}\n`);

  const rich = await openAccount(`customer-${run}-rich`, 5_000_00);
  const poor = await openAccount(`customer-${run}-poor`, 5_00);
  const savings = await openAccount(`customer-${run}-savings`, 0);
  const sku = `demo-${run}-widget`;
  const rare = `demo-${run}-rare`;
  await call('POST', `/inventory/${sku}/restock`, { quantity: 100 });
  await call('POST', `/inventory/${rare}/restock`, { quantity: 1 });
  console.log(
    `accounts: ${rich} (5000.00), ${poor} (5.00), ${savings} (0.00); stock: ${sku} ×100, ${rare} ×1`,
  );

  const order = (
    customerId: string,
    paymentAccountId: string,
    items: object[],
    country = 'DE',
  ) => ({
    customerId,
    paymentAccountId,
    items,
    shippingAddress: address(country),
  });
  const customer = `c-${run}`;
  const orders = await Promise.all([
    placeOrder('success', order(customer, rich, [{ sku, quantity: 2, unitPrice: 19_99 }])),
    placeOrder(
      'out of stock',
      order(customer, rich, [{ sku: rare, quantity: 3, unitPrice: 5_00 }]),
    ),
    placeOrder(
      'insufficient funds',
      order(customer, poor, [{ sku, quantity: 1, unitPrice: 49_99 }]),
    ),
    placeOrder(
      'unserved destination',
      order(customer, rich, [{ sku, quantity: 1, unitPrice: 9_99 }], 'KP'),
    ),
    placeOrder('approval', order(customer, rich, [{ sku, quantity: 10, unitPrice: 120_00 }])),
    placeOrder('cancellation', order(customer, rich, [{ sku, quantity: 10, unitPrice: 110_00 }])),
  ]);
  const byLabel = new Map(orders.map((o) => [o.label, o.orderId]));
  const pointsBefore = await loyaltyPoints(customer);
  const success = `/orders/${byLabel.get('success')}`;
  await waitFor(success, (s) => s === 'DISPATCHED' || s === 'COMPLETED');
  const dispatchedAt = Date.now();
  console.log('\nsuccess: dispatched; waiting for the carrier to confirm delivery …');
  await waitFor(success, (s) => s === 'COMPLETED');
  console.log(
    `success: delivered, COMPLETED ${((Date.now() - dispatchedAt) / 1000).toFixed(1)} s after dispatch`,
  );

  await waitFor(`/orders/${byLabel.get('approval')}`, (s) => s === 'AWAITING_APPROVAL');
  await call('POST', `/orders/${byLabel.get('approval')}/approve`, {});
  await waitFor(`/orders/${byLabel.get('cancellation')}`, (s) => s === 'AWAITING_APPROVAL');
  await call('POST', `/orders/${byLabel.get('cancellation')}/cancel`, {
    reason: 'customer changed their mind',
  });

  const transfers = await Promise.all([
    call<{ transferId: string }>(
      'POST',
      '/transfers',
      { fromAccountId: rich, toAccountId: savings, amount: 250_00 },
      { 'idempotency-key': `demo-${run}-t1` },
    ),
    call<{ transferId: string }>(
      'POST',
      '/transfers',
      { fromAccountId: poor, toAccountId: savings, amount: 900_00 },
      { 'idempotency-key': `demo-${run}-t2` },
    ),
  ]);

  console.log('\nOrders');
  for (const { label, orderId } of orders) {
    const final = await waitFor(`/orders/${orderId}`, (s) => TERMINAL.has(s));
    console.log(
      `  ${label.padEnd(22)} ${final.status.padEnd(10)} ${final.failureReason ?? ''}  (GET /orders/${orderId})`,
    );
  }
  console.log('\nTransfers');
  for (const [i, { transferId }] of transfers.entries()) {
    const final = await waitFor(`/transfers/${transferId}`, (s) => TERMINAL.has(s));
    console.log(
      `  ${(i === 0 ? 'success' : 'insufficient funds').padEnd(22)} ${final.status.padEnd(10)} ${final.reason ?? ''}  (GET /transfers/${transferId})`,
    );
  }
  const balance = await call<{ balance: number }>('GET', `/accounts/${rich}`);
  console.log(`\n${rich} now holds ${(balance.balance / 100).toFixed(2)}`);
  await showLoyalty(customer, pointsBefore);

  console.log(`
Where to look
  Temporal UI, this customer's sagas:  ${UI}/namespaces/default/workflows?query=${encodeURIComponent(`CustomerId="${customer}"`)}
  Sagas waiting for approval:          ${UI}/namespaces/default/workflows?query=${encodeURIComponent('SagaStatus="AWAITING_APPROVAL"')}
  An order's saga status:              ${API}/orders/${byLabel.get('success')}/saga
  The customer's orders:               ${API}/orders?customerId=${customer}
  Every event, live (SSE):             curl -N -H 'accept: text/event-stream' ${API}/events
  OpenAPI:                             ${API}/docs`);
}

/** Points change once the relay has published order.completed.v1 and loyalty applied it. */
async function showLoyalty(customerId: string, before: number | undefined): Promise<void> {
  if (before === undefined) {
    console.log(
      `\nLoyalty: no loyalty service at ${LOYALTY} (npm start runs one; or npm run start:loyalty)`,
    );
    return;
  }
  let now = before;
  for (let i = 0; i < 50 && now === before; i++, await sleep(200))
    now = (await loyaltyPoints(customerId)) ?? before;
  console.log(
    `\nLoyalty points of ${customerId}: ${before} → ${now}  (GET ${LOYALTY}/customers/${customerId}/points)`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
