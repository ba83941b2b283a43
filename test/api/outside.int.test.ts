/* eslint-disable @typescript-eslint/no-unsafe-member-access -- assertions on JSON response bodies */
import type { InjectOptions } from 'fastify';
import { createApiTestApp, orderBody, type ApiTestApp } from './support/apiApp';

/** What an outside client (schemathesis against /docs/json) checks, without API_KEYS. */
const PROBLEM = /^application\/problem\+json/;
let t: ApiTestApp;

beforeAll(async () => {
  t = await createApiTestApp('outside');
});
afterAll(async () => t?.close());

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: object;
}
type Operation = { security?: unknown[]; parameters?: Parameter[]; responses: object };
interface Document {
  security?: unknown[];
  paths: Record<string, Record<string, Operation>>;
}
const document = async (): Promise<Document> =>
  (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

describe('a method the path does not serve is 405 with Allow', () => {
  const cases: Array<[InjectOptions['method'], string, string]> = [
    ['DELETE', '/orders', 'GET, HEAD, POST'],
    ['PUT', '/accounts/acc-1', 'GET, HEAD'],
    ['PATCH', '/orders/o-1/approve', 'POST'],
    ['GET', '/admin/projections/p/rebuild', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['OPTIONS', '/transfers/t-1', 'GET, HEAD'],
  ];
  test.each(cases)('%s %s → 405, Allow: %s', async (method, url, allow) => {
    const response = await t.app.inject({ method, url });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe(allow);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      instance: url.split('?')[0],
    });
  });

  test('even when the body could not be read: a QUERY without Content-Type, a text/plain PUT', async () => {
    const query = await t.app.inject({ method: 'QUERY', url: '/transfers/t-1?minPosition=0' });
    expect([query.statusCode, query.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect(query.headers['content-type']).toMatch(PROBLEM);
    const put = await t.app.inject({
      method: 'PUT',
      url: '/orders',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect([put.statusCode, put.headers.allow]).toEqual([405, 'GET, HEAD, POST']);
  });

  test('a path no route serves stays 404, whatever the method or body', async () => {
    for (const method of ['GET', 'DELETE', 'QUERY'] as const) {
      const response = await t.app.inject({ method, url: '/orders/o-1/nope' });
      expect([method, response.statusCode]).toEqual([method, 404]);
      expect(response.headers.allow).toBeUndefined();
    }
    const text = await t.app.inject({
      method: 'POST',
      url: '/nope',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(text.statusCode).toBe(404);
  });
});

describe('over-long path parameters are a documented 400', () => {
  test('longer than the schema allows: 400 naming the parameter', async () => {
    const response = await t.app.inject({ method: 'GET', url: `/orders/${'x'.repeat(200)}` });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json().errors).toEqual([expect.objectContaining({ field: 'id' })]);
  });

  test("longer than the router's limit: 400 problem, not 414", async () => {
    const url = `/orders/${'x'.repeat(600)}/approve`;
    const response = await t.app.inject({ method: 'POST', url, payload: {} });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({ status: 400, code: 'VALIDATION', instance: url });
  });

  test('every operation with a path parameter documents 400', async () => {
    const doc = await document();
    const withParams = operations(doc).filter(({ operation }) =>
      operation.parameters?.some((parameter) => parameter.in === 'path'),
    );
    expect(withParams.length).toBeGreaterThan(5);
    for (const { path, method, operation } of withParams) {
      expect([method, path, Object.keys(operation.responses)]).toEqual([
        method,
        path,
        expect.arrayContaining(['400']),
      ]);
    }
  });
});

test('without API_KEYS the document declares no security: every operation is open', async () => {
  const doc = await document();
  expect(doc.security).toBeUndefined();
  for (const { path, method, operation } of operations(doc)) {
    expect([method, path, operation.security]).toEqual([method, path, []]);
  }
});

describe('a request the document calls valid is not refused with a 400', () => {
  test('any cursor of the documented form pages on; a page hands out cursors of that form', async () => {
    const placed = await Promise.all(
      [1, 2, 3].map(() =>
        t.app.inject({
          method: 'POST',
          url: '/orders',
          payload: orderBody({ customerId: 'c-cur' }),
        }),
      ),
    );
    expect(placed.map((response) => response.statusCode)).toEqual([202, 202, 202]);
    const doc = await document();
    const cursor = doc.paths['/orders']!.get!.parameters!.find(
      (parameter) => parameter.name === 'cursor',
    ) as { schema: { pattern: string } } | undefined;
    const pattern = new RegExp(cursor!.schema.pattern, 'u');

    const first = await t.app.inject({ method: 'GET', url: '/orders?customerId=c-cur&limit=2' });
    const { nextCursor } = first.json<{ nextCursor: string }>();
    expect(nextCursor).toMatch(pattern);
    const next = await t.app.inject({
      method: 'GET',
      url: `/orders?customerId=c-cur&limit=2&cursor=${encodeURIComponent(nextCursor)}`,
    });
    expect(next.json<{ items: unknown[] }>().items).toHaveLength(1);

    for (const made of ['0.0', '9999999999999999.zzz', `1700000000000000.${'é'.repeat(200)}`]) {
      expect(made).toMatch(pattern);
      const response = await t.app.inject({
        method: 'GET',
        url: `/orders?cursor=${encodeURIComponent(made)}`,
      });
      expect([made, response.statusCode]).toEqual([made, 200]);
    }
    const bad = await t.app.inject({ method: 'GET', url: '/orders?cursor=0' });
    expect(bad.statusCode).toBe(400);
  });

  test('an order within the documented bounds has a total the domain accepts', async () => {
    const doc = await document();
    const body = doc.paths['/orders']!.post as unknown as {
      requestBody: { content: Record<string, { schema: OrderSchema }> };
    };
    const items = body.requestBody.content['application/json']!.schema.properties.items;
    const { quantity, unitPrice } = items.items.properties;
    expect(items.maxItems * quantity.maximum * unitPrice.maximum).toBeLessThanOrEqual(
      Number.MAX_SAFE_INTEGER,
    );
    const largest = await t.app.inject({
      method: 'POST',
      url: '/orders',
      payload: orderBody({
        items: Array.from({ length: items.maxItems }, (_, index) => ({
          sku: `SKU-${index}`,
          quantity: quantity.maximum,
          unitPrice: unitPrice.maximum,
        })),
      }),
    });
    expect(largest.statusCode).toBe(202);
  });

  test('a deposit or restock the balance cannot take is a 409 conflict with the state', async () => {
    const max = Number.MAX_SAFE_INTEGER;
    const opened = await t.app.inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'o', initialDeposit: max - 1 },
    });
    expect(opened.statusCode).toBe(201);
    const { accountId } = opened.json<{ accountId: string }>();
    const deposit = await t.app.inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      payload: { amount: 2 },
    });
    expect(deposit.statusCode).toBe(409);
    expect(deposit.headers['content-type']).toMatch(PROBLEM);
    expect(deposit.json()).toMatchObject({ code: 'BALANCE_LIMIT_EXCEEDED' });

    const restock = (quantity: number) =>
      t.app.inject({ method: 'POST', url: '/inventory/SKU-MAX/restock', payload: { quantity } });
    expect((await restock(max)).statusCode).toBe(201);
    const again = await restock(1);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'STOCK_LIMIT_EXCEEDED' });
  });
});

interface OrderSchema {
  properties: {
    items: {
      maxItems: number;
      items: { properties: { quantity: { maximum: number }; unitPrice: { maximum: number } } };
    };
  };
}

test('a query parameter with a default is documented as optional, and may be left out', async () => {
  const doc = await document();
  const withDefaults = operations(doc).flatMap(({ path, method, operation }) =>
    (operation.parameters ?? [])
      .filter((parameter) => parameter.schema && 'default' in parameter.schema)
      .map((parameter) => ({ path, method, name: parameter.name, required: parameter.required })),
  );
  expect(withDefaults).toEqual(
    expect.arrayContaining([
      { path: '/orders', method: 'get', name: 'limit', required: false },
      { path: '/events', method: 'get', name: 'after', required: false },
    ]),
  );
  for (const parameter of withDefaults) expect(parameter).toMatchObject({ required: false });
  for (const url of ['/orders', '/events', '/streams/account-none/events']) {
    expect([url, (await t.app.inject({ method: 'GET', url })).statusCode]).not.toEqual([url, 400]);
  }
});
