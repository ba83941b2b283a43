/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- assertions on JSON response bodies */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createHash, createHmac } from 'node:crypto';
import { buildApp, type AppDeps } from '../../src/api/app';
import { CommandHandler } from '../../src/application/commandHandler';
import { createPool } from '../../src/eventstore';
import { canonicalJson, forgetOldRequests } from '../../src/api/plugins/idempotency';
import { projectionReadModels } from '../../src/api/projectionReadModels';
import { loadConfig } from '../../src/config';
import { createApiTestApp, orderBody, type ApiTestApp } from './support/apiApp';
import { projectionSource } from '../support/testDatabase';

/** The secret createApiTestApp's config gives the app. */
const DEV_SECRET = 'api-test-idempotency-secret-0123456789abcdef';

const PROBLEM = /^application\/problem\+json/;
let t: ApiTestApp;

beforeAll(async () => {
  t = await createApiTestApp('api', { IDEMPOTENCY_SECRET: DEV_SECRET });
});
afterAll(async () => t?.close());

const inject = (options: InjectOptions): Promise<LightMyRequestResponse> => t.app.inject(options);

async function openAccount(initialDeposit = 0): Promise<{ accountId: string; position: string }> {
  const response = await inject({
    method: 'POST',
    url: '/accounts',
    payload: { ownerId: 'owner-1', initialDeposit },
  });
  expect(response.statusCode).toBe(201);
  return response.json();
}

describe('validation and errors: problem+json naming the field', () => {
  const cases: Array<[string, string, unknown, string]> = [
    ['POST', '/accounts', { initialDeposit: 5 }, 'ownerId'],
    ['POST', '/accounts', { ownerId: 'o', initialDeposit: 1.5 }, 'initialDeposit'],
    ['POST', '/accounts/acc-1/deposits', { amount: '100' }, 'amount'],
    ['POST', '/accounts/acc-1/deposits', { amount: 0 }, 'amount'],
    ['POST', '/accounts/acc-1/deposits', { amount: 10.5 }, 'amount'],
    ['POST', '/accounts/acc-1/deposits', { amount: true }, 'amount'],
    ['POST', '/inventory/SKU-1/restock', { quantity: -1 }, 'quantity'],
    ['POST', '/orders', orderBody({ items: [] }), 'items'],
    [
      'POST',
      '/orders',
      orderBody({ items: [{ sku: 'S', quantity: 1, unitPrice: 9.99 }] }),
      'items[0].unitPrice',
    ],
    [
      'POST',
      '/orders',
      orderBody({ items: [{ sku: 'S', quantity: '1', unitPrice: 1 }] }),
      'items[0].quantity',
    ],
    [
      'POST',
      '/orders',
      orderBody({ shippingAddress: { name: 'x', line1: 'y', city: 'z', postalCode: '1' } }),
      'shippingAddress.country',
    ],
    ['POST', '/orders', { ...orderBody(), extra: true }, 'extra'],
    ['POST', '/transfers', { fromAccountId: 'a', toAccountId: 'b', amount: 1.01 }, 'amount'],
    ['POST', '/transfers', { fromAccountId: 'a', toAccountId: 'a', amount: 1 }, 'toAccountId'],
    ['POST', '/orders/o-1/cancel', { reason: 5 }, 'reason'],
  ];
  test.each(cases)('%s %s %j → 400 on %s', async (method, url, payload, field) => {
    const response = await inject({ method: method, url, payload: payload as object });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    const problem = response.json();
    expect(problem).toMatchObject({ status: 400, title: 'Bad Request', instance: url });
    expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
    expect(JSON.stringify(problem)).not.toMatch(/\bat .*\.ts:\d+/);
  });

  const queries: Array<[string, string]> = [
    ['/accounts/acc-1?at=yesterday', 'at'],
    ['/accounts/acc-1?minPosition=abc', 'minPosition'],
    ['/orders?limit=0', 'limit'],
    ['/orders?limit=abc', 'limit'],
    ['/orders?cursor=not-a-cursor!', 'cursor'],
    ['/orders?status=lower', 'status'],
    ['/events?after=-1', 'after'],
    ['/events?limit=100000', 'limit'],
    ['/streams/order-1/events?fromVersion=0', 'fromVersion'],
    ['/streams/order-1/events?fromVersion=5&toVersion=2', 'toVersion'],
    ['/accounts/bad%20id', 'id'],
  ];
  test.each(queries)('GET %s → 400 on %s', async (url, field) => {
    const response = await inject({ method: 'GET', url });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  test('invalid JSON, wrong content type, empty and oversized bodies are 4xx problems', async () => {
    const badJson = await inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'content-type': 'application/json' },
      payload: '{"ownerId":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.headers['content-type']).toMatch(PROBLEM);

    const text = await inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(text.statusCode).toBe(415);
    expect(text.headers['content-type']).toMatch(PROBLEM);

    const empty = await inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.headers['content-type']).toMatch(PROBLEM);

    const big = await inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ ownerId: 'x'.repeat(100_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.headers['content-type']).toMatch(PROBLEM);

    const unknown = await inject({ method: 'GET', url: '/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toMatch(PROBLEM);
  });

  test('domain rejections map to 404 / 409', async () => {
    const missing = await inject({
      method: 'POST',
      url: '/accounts/nobody/deposits',
      payload: { amount: 5 },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'ACCOUNT_NOT_FOUND', status: 404 });

    await inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'o', accountId: 'dup-acc' },
    });
    const again = await inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'o2', accountId: 'dup-acc' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toMatch(PROBLEM);
    expect(again.json().code).toBe('ACCOUNT_ALREADY_EXISTS');

    for (const url of [
      '/accounts/ghost',
      '/inventory/GHOST',
      '/orders/ghost',
      '/transfers/ghost',
      '/orders/ghost/saga',
      '/streams/account-ghost/events',
    ]) {
      const response = await inject({ method: 'GET', url });
      expect([url, response.statusCode]).toEqual([url, 404]);
      expect(response.headers['content-type']).toMatch(PROBLEM);
    }
    const approve = await inject({ method: 'POST', url: '/orders/ghost/approve' });
    expect(approve.statusCode).toBe(404);
  });

  test('correlation id is returned (and generated when absent)', async () => {
    const given = await inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-correlation-id': 'corr-abc' },
    });
    expect(given.headers['x-correlation-id']).toBe('corr-abc');
    const generated = await inject({ method: 'GET', url: '/health' });
    expect(generated.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('accounts, inventory and read-your-writes', () => {
  test('deposit then read with minPosition sees the write', async () => {
    const { accountId } = await openAccount(100);
    const deposit = await inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      payload: { amount: 250 },
    });
    expect(deposit.statusCode).toBe(201);
    expect(deposit.json()).toMatchObject({ balance: 350, version: 3 });
    const read = await inject({
      method: 'GET',
      url: `/accounts/${accountId}?minPosition=${deposit.json().position}`,
    });
    expect(read.statusCode).toBe(200);
    expect(read.headers['x-read-model-stale']).toBeUndefined();
    expect(read.json()).toMatchObject({ accountId, balance: 350, version: 3 });
  });

  test('a minPosition the read model never reaches answers with what it has, marked stale', async () => {
    const { accountId } = await openAccount(1);
    const read = await inject({
      method: 'GET',
      url: `/accounts/${accountId}?minPosition=999999999`,
    });
    expect(read.statusCode).toBe(200);
    expect(read.headers['x-read-model-stale']).toBe('true');
  });

  test('time travel: the account as it was at an instant', async () => {
    const { accountId } = await openAccount(100);
    const before = new Date(Date.now() - 60_000).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const middle = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      payload: { amount: 900 },
    });

    const then = await inject({
      method: 'GET',
      url: `/accounts/${accountId}?at=${encodeURIComponent(middle)}`,
    });
    expect(then.statusCode).toBe(200);
    expect(then.json()).toMatchObject({ accountId, balance: 100, version: 2, asOf: middle });
    const now = await inject({
      method: 'GET',
      url: `/accounts/${accountId}?at=${encodeURIComponent(new Date().toISOString())}`,
    });
    expect(now.json()).toMatchObject({ balance: 1000, version: 3 });
    const notYet = await inject({
      method: 'GET',
      url: `/accounts/${accountId}?at=${encodeURIComponent(before)}`,
    });
    expect(notYet.statusCode).toBe(404);
  });

  test('restock and read the inventory level', async () => {
    const restock = await inject({
      method: 'POST',
      url: '/inventory/SKU-RS/restock',
      payload: { quantity: 7 },
    });
    expect(restock.statusCode).toBe(201);
    expect(restock.json()).toMatchObject({ sku: 'SKU-RS', available: 7 });
    const level = await inject({
      method: 'GET',
      url: `/inventory/SKU-RS?minPosition=${restock.json().position}`,
    });
    expect(level.json()).toMatchObject({ sku: 'SKU-RS', available: 7 });
  });

  test('stream and global event feeds', async () => {
    const { accountId } = await openAccount(10);
    const stream = await inject({
      method: 'GET',
      url: `/streams/account-${accountId}/events?fromVersion=2`,
    });
    expect(stream.json().events.map((e: { type: string }) => e.type)).toEqual(['FundsDeposited']);
    const all = await inject({ method: 'GET', url: '/events?after=0&limit=2' });
    expect(all.json().events).toHaveLength(2);
    const next = await inject({
      method: 'GET',
      url: `/events?after=${all.json().lastPosition}&limit=1000`,
    });
    expect(next.json().events.length).toBeGreaterThan(0);
  });
});

describe('idempotency keys', () => {
  test('same key + same body → same response, nothing new; different body → 409', async () => {
    const headers = { 'idempotency-key': 'order-key-1' };
    const first = await inject({ method: 'POST', url: '/orders', headers, payload: orderBody() });
    expect(first.statusCode).toBe(202);
    const body = first.json();
    expect(body).toMatchObject({ status: 'PLACED', total: 2500, sagaId: `order-${body.orderId}` });

    // Same body, keys in another order: the same request.
    const { items, shippingAddress, paymentAccountId, customerId } = orderBody();
    const second = await inject({
      method: 'POST',
      url: '/orders',
      headers,
      payload: { shippingAddress, items, paymentAccountId, customerId },
    });
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual(body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const events = await t.db.eventStore.readStream(`order-${body.orderId}`);
    expect(events.map((e) => e.type)).toEqual(['OrderPlaced']);

    const different = await inject({
      method: 'POST',
      url: '/orders',
      headers,
      payload: orderBody({ customerId: 'cust-2' }),
    });
    expect(different.statusCode).toBe(409);
    expect(different.headers['content-type']).toMatch(PROBLEM);
    expect(different.json()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      errors: [{ field: 'idempotency-key' }],
    });
  });

  test('concurrent duplicates converge on one order and one saga', async () => {
    const headers = { 'idempotency-key': 'concurrent-key' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        inject({ method: 'POST', url: '/orders', headers, payload: orderBody() }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(202));
    const ids = new Set(responses.map((r) => r.json().orderId));
    expect(ids.size).toBe(1);
    const [orderId] = [...ids] as string[];
    const events = await t.db.eventStore.readStream(`order-${orderId}`);
    expect(events.map((e) => e.type)).toEqual(['OrderPlaced']);
    const runs = [];
    for await (const run of t.env.client.workflow.list({
      query: `WorkflowId = 'order-${orderId}'`,
    }))
      runs.push(run);
    expect(runs).toHaveLength(1);
  });

  test('without a key every request is a new order', async () => {
    const a = await inject({ method: 'POST', url: '/orders', payload: orderBody() });
    const b = await inject({ method: 'POST', url: '/orders', payload: orderBody() });
    expect(a.json().orderId).not.toBe(b.json().orderId);
  });

  test('deposits: a retried key is answered 200 with the same result and deposits once', async () => {
    const { accountId } = await openAccount(0);
    const headers = { 'idempotency-key': 'dep-1' };
    const first = await inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      headers,
      payload: { amount: 40 },
    });
    const again = await inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      headers,
      payload: { amount: 40 },
    });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(first.json().balance).toBe(40);
    const transfer = await inject({
      method: 'POST',
      url: '/transfers',
      headers: { 'idempotency-key': 't-1' },
      payload: { fromAccountId: accountId, toAccountId: 'other', amount: 5 },
    });
    const transferAgain = await inject({
      method: 'POST',
      url: '/transfers',
      headers: { 'idempotency-key': 't-1' },
      payload: { fromAccountId: accountId, toAccountId: 'other', amount: 5 },
    });
    expect(transfer.statusCode).toBe(202);
    expect(transferAgain.json()).toEqual(transfer.json());
  });
});

describe('idempotency keys after a failed first attempt', () => {
  type Fault = 'store' | 'temporal';
  interface Route {
    name: string;
    fault: Fault;
    url: () => Promise<string>;
    body: Record<string, unknown>;
    different: Record<string, unknown>;
    success: number;
  }
  const routes: Route[] = [
    {
      name: 'POST /accounts',
      fault: 'store',
      url: async () => '/accounts',
      body: { ownerId: 'owner-f', initialDeposit: 5 },
      different: { ownerId: 'owner-f', initialDeposit: 5000 },
      success: 201,
    },
    {
      name: 'POST /accounts/{id}/deposits',
      fault: 'store',
      url: async () => `/accounts/${(await openAccount(0)).accountId}/deposits`,
      body: { amount: 40 },
      different: { amount: 4000 },
      success: 201,
    },
    {
      name: 'POST /inventory/{sku}/restock',
      fault: 'store',
      url: async () => '/inventory/SKU-FAILED-FIRST/restock',
      body: { quantity: 3 },
      different: { quantity: 300 },
      success: 201,
    },
    {
      name: 'POST /orders',
      fault: 'store',
      url: async () => '/orders',
      body: orderBody({ customerId: 'cust-failed-first' }),
      different: orderBody({
        customerId: 'cust-failed-first',
        shippingAddress: { ...orderBody().shippingAddress, line1: '2 Other Rd' },
      }),
      success: 202,
    },
    {
      name: 'POST /transfers',
      fault: 'temporal',
      url: async () => '/transfers',
      body: { fromAccountId: 'acc-f-1', toAccountId: 'acc-f-2', amount: 5 },
      different: { fromAccountId: 'acc-f-1', toAccountId: 'acc-f-3', amount: 5 },
      success: 202,
    },
  ];

  /** The next write to the store, or the next saga start, fails as if the service were down. */
  function failOnce(fault: Fault) {
    const down = new Error('connection terminated unexpectedly');
    return fault === 'store'
      ? jest.spyOn(t.db.eventStore, 'append').mockRejectedValueOnce(down)
      : jest.spyOn(t.env.client.workflow, 'start').mockRejectedValueOnce(down);
  }

  test.each(routes)(
    '$name: the failed attempt keeps its fingerprint (other body 409, same body runs once)',
    async (route) => {
      const url = await route.url();
      const headers = { 'idempotency-key': `failed-first ${route.name}` };
      const send = (payload: Record<string, unknown>) =>
        inject({ method: 'POST', url, headers, payload });

      const fault = failOnce(route.fault);
      const first = await send(route.body);
      fault.mockRestore();
      expect(first.statusCode).toBeGreaterThanOrEqual(500);

      const different = await send(route.different);
      expect(different.statusCode).toBe(409);
      expect(different.headers['content-type']).toMatch(PROBLEM);
      expect(different.json()).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        errors: [{ field: 'idempotency-key', in: 'headers' }],
      });

      // Two retries at once, then a third: all the same answer; the command ran once.
      const retries = await Promise.all([send(route.body), send(route.body)]);
      // (A deposit or restock that finds itself already applied answers 200, not 201.)
      const answered = retries[0].statusCode;
      expect([route.success, 200]).toContain(answered);
      expect(retries[1].statusCode).toBe(answered);
      expect(retries[1].json()).toEqual(retries[0].json());
      const replay = await send(route.body);
      expect(replay.statusCode).toBe(answered);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.json()).toEqual(retries[0].json());
      // And the different body is still refused once the key has an answer.
      expect((await send(route.different)).statusCode).toBe(409);
    },
  );

  test('the retried deposit and order took effect once, with the first body', async () => {
    const depositUrl = `/accounts/${(await openAccount(0)).accountId}/deposits`;
    const headers = { 'idempotency-key': 'failed-first effects' };
    const fault = failOnce('store');
    expect(
      (await inject({ method: 'POST', url: depositUrl, headers, payload: { amount: 40 } }))
        .statusCode,
    ).toBeGreaterThanOrEqual(500);
    fault.mockRestore();
    await inject({ method: 'POST', url: depositUrl, headers, payload: { amount: 4000 } });
    const deposit = await inject({
      method: 'POST',
      url: depositUrl,
      headers,
      payload: { amount: 40 },
    });
    expect(deposit.json().balance).toBe(40);

    const orderHeaders = { 'idempotency-key': 'failed-first order effects' };
    const orderFault = failOnce('store');
    await inject({ method: 'POST', url: '/orders', headers: orderHeaders, payload: orderBody() });
    orderFault.mockRestore();
    const other = orderBody({ items: [{ sku: 'SKU-1', quantity: 99, unitPrice: 1250 }] });
    await inject({ method: 'POST', url: '/orders', headers: orderHeaders, payload: other });
    const order = await inject({
      method: 'POST',
      url: '/orders',
      headers: orderHeaders,
      payload: orderBody(),
    });
    expect(order.statusCode).toBe(202);
    expect(order.json().total).toBe(2500);
    const events = await t.db.eventStore.readStream(`order-${order.json().orderId}`);
    expect(events.map((e) => e.type)).toEqual(['OrderPlaced']);
  });
});

describe('idempotency fingerprints', () => {
  test('are keyed with the deployment secret, not a bare hash of the body', async () => {
    const payload = orderBody({ customerId: 'cust-fingerprint' });
    const response = await inject({
      method: 'POST',
      url: '/orders',
      headers: { 'idempotency-key': 'fingerprint-1' },
      payload,
    });
    expect(response.statusCode).toBe(202);
    const row = await t.db.pool.query<{ request_hash: string }>(
      "SELECT request_hash FROM api_idempotency_keys WHERE key = 'fingerprint-1'",
    );
    const stored = row.rows[0]!.request_hash;
    const canonical = canonicalJson({ params: {}, body: payload });
    // Anyone holding the table could test a guessed address against a bare SHA-256.
    expect(stored).not.toContain(createHash('sha256').update(canonical).digest('hex'));
    expect(stored).toBe(
      `hmac-sha256:${createHmac('sha256', DEV_SECRET).update(canonical).digest('hex')}`,
    );
  });

  test('after the retention window only a tombstone is left, and the key stays refused', async () => {
    const headers = { 'idempotency-key': 'retention-old' };
    const payload = orderBody({ customerId: 'cust-retention' });
    expect((await inject({ method: 'POST', url: '/orders', headers, payload })).statusCode).toBe(
      202,
    );
    const recent = { 'idempotency-key': 'retention-recent' };
    await inject({ method: 'POST', url: '/orders', headers: recent, payload });
    await t.db.pool.query(
      "UPDATE api_idempotency_keys SET created_at = now() - interval '31 days' WHERE key = 'retention-old'",
    );

    expect(await forgetOldRequests(t.db.pool, 30)).toBe(1);
    const rows = await t.db.pool.query<{ key: string; request_hash: string; response: unknown }>(
      "SELECT key, request_hash, response FROM api_idempotency_keys WHERE key LIKE 'retention-%' ORDER BY key",
    );
    expect(rows.rows).toEqual([
      { key: 'retention-old', request_hash: 'forgotten', response: null },
      {
        key: 'retention-recent',
        request_hash: expect.stringMatching(/^hmac-sha256:/),
        response: expect.anything(),
      },
    ]);
    // Any request under the forgotten key, even the same one, is refused, never re-run.
    const again = await inject({ method: 'POST', url: '/orders', headers, payload });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // The recent key still replays.
    const replay = await inject({ method: 'POST', url: '/orders', headers: recent, payload });
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  test('production without IDEMPOTENCY_SECRET refuses to build; a short secret is a config error', () => {
    expect(() =>
      buildApp({
        pool: t.db.pool,
        eventStore: t.db.eventStore,
        commands: t.db.eventStore as unknown as AppDeps['commands'],
        temporal: t.env.client,
        config: {
          ...t.config,
          NODE_ENV: 'production',
          API_KEYS: 'k:admin',
          IDEMPOTENCY_SECRET: undefined,
        },
        readModels: projectionReadModels(t.db.eventStore),
      }),
    ).toThrow(/IDEMPOTENCY_SECRET/);
    expect(() => loadConfig({ IDEMPOTENCY_SECRET: 'short' })).toThrow(/IDEMPOTENCY_SECRET/);
  });
});

describe('readiness does not tell the public why it failed', () => {
  test('a failing check says "unavailable" publicly; an admin key sees the cause', async () => {
    // A database name that must not leak, on the server the tests use.
    const hidden = `${t.db.url.replace(/\/[^/]*$/, '')}/sagaflow_secret_missing_db`;
    const pool = createPool(hidden, { max: 1 });
    const { eventStore } = projectionSource(pool);
    const app = buildApp(
      {
        pool,
        eventStore,
        commands: new CommandHandler(eventStore),
        temporal: t.env.client,
        config: { ...t.config, API_KEYS: 'ready-admin:admin,ready-reader:reader' },
        readModels: projectionReadModels(eventStore),
      },
      { logger: false, swaggerUi: false },
    );
    try {
      for (const headers of [{}, { 'x-api-key': 'ready-reader' }]) {
        const ready = await app.inject({ method: 'GET', url: '/ready', headers });
        expect(ready.statusCode).toBe(503);
        expect(ready.body).not.toMatch(/sagaflow_secret_missing_db|does not exist/);
        expect(ready.json()).toEqual({
          status: 'unavailable',
          checks: { postgres: { ok: false, error: 'unavailable' }, temporal: { ok: true } },
        });
      }
      const asAdmin = await app.inject({
        method: 'GET',
        url: '/ready',
        headers: { 'x-api-key': 'ready-admin' },
      });
      expect(asAdmin.statusCode).toBe(503);
      expect(asAdmin.json().checks.postgres.detail).toMatch(/sagaflow_secret_missing_db/);
    } finally {
      await app.close();
      await pool.end();
    }
  });
});

describe('health, readiness, metrics, docs', () => {
  test('health and ready', async () => {
    expect((await inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toEqual({ postgres: { ok: true }, temporal: { ok: true } });
  });

  test('metrics count requests by route', async () => {
    await inject({ method: 'GET', url: '/health' });
    const metrics = await inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(
      /sagaflow_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/,
    );
  });

  test('OpenAPI document lists every route with its responses', async () => {
    const doc = (await inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/accounts',
      '/accounts/{id}',
      '/orders',
      '/orders/{id}/saga',
      '/transfers',
      '/events',
      '/admin/projections',
      '/ready',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(
      doc.paths['/orders'].post.responses['400'].content['application/problem+json'],
    ).toBeDefined();
    expect(doc.paths['/orders'].post.responses['202']).toBeDefined();
    const ui = await inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBeLessThan(400);
  });

  test('admin: projection statuses and background rebuild', async () => {
    const list = await inject({ method: 'GET', url: '/admin/projections' });
    expect(list.statusCode).toBe(200);
    const names = list.json().projections.map((p: { name: string }) => p.name);
    expect(names).toContain('order_summary');
    const rebuild = await inject({
      method: 'POST',
      url: '/admin/projections/order_summary/rebuild',
    });
    expect(rebuild.statusCode).toBe(202);
    const unknown = await inject({ method: 'POST', url: '/admin/projections/nope/rebuild' });
    expect(unknown.statusCode).toBe(404);
  });
});
