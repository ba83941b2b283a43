import { buildApp } from '../../src/api/app';
import { createApiTestApp, type ApiTestApp } from './support/apiApp';

let t: ApiTestApp;
beforeAll(async () => {
  t = await createApiTestApp('auth', { API_KEYS: 'r-key:reader,o-key:operator,a-key:admin' });
});
afterAll(async () => t?.close());

const call = (method: 'GET' | 'POST', url: string, key?: string, bearer = false) =>
  t.app.inject({
    method,
    url,
    ...(method === 'POST' && { payload: { ownerId: 'o' } }),
    headers: key ? (bearer ? { authorization: `Bearer ${key}` } : { 'x-api-key': key }) : {},
  });

test('no key: 401 problem on API routes; health, ready, metrics and docs stay open', async () => {
  const response = await call('GET', '/orders');
  expect(response.statusCode).toBe(401);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.headers['www-authenticate']).toMatch(/Bearer/);
  for (const url of ['/health', '/ready', '/metrics', '/docs/json', '/asyncapi.json']) {
    expect([url, (await call('GET', url)).statusCode]).toEqual([url, 200]);
  }
});

test('a wrong key is 401', async () => {
  expect((await call('GET', '/orders', 'nope')).statusCode).toBe(401);
});

test('reader may GET only; operator may command; only admin reaches /admin', async () => {
  expect((await call('GET', '/orders', 'r-key')).statusCode).toBe(200);
  const forbidden = await call('POST', '/accounts', 'r-key');
  expect(forbidden.statusCode).toBe(403);
  expect(forbidden.json()).toMatchObject({ status: 403, code: 'FORBIDDEN' });

  expect((await call('POST', '/accounts', 'o-key')).statusCode).toBe(201);
  expect((await call('POST', '/accounts', 'o-key', true)).statusCode).toBe(201);
  expect((await call('GET', '/admin/projections', 'o-key')).statusCode).toBe(403);
  expect((await call('GET', '/admin/projections', 'a-key', true)).statusCode).toBe(200);
  expect((await call('POST', '/accounts', 'a-key')).statusCode).toBe(201);
});

test('the OpenAPI document: open routes have security: [], protected ones document 401 and 403', async () => {
  const response = await call('GET', '/docs/json');
  const doc: {
    security?: unknown[];
    paths: Record<string, Record<string, { security?: unknown[]; responses: object }>>;
  } = response.json();
  expect(doc.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
  const open = ['/health', '/ready', '/metrics', '/asyncapi.json'];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (open.includes(path)) {
        expect([method, path, operation.security]).toEqual([method, path, []]);
      } else {
        expect([method, path, operation.security]).toEqual([method, path, undefined]);
        expect([method, path, Object.keys(operation.responses)]).toEqual([
          method,
          path,
          expect.arrayContaining(['401', '403']),
        ]);
      }
    }
  }
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(open));
});

test('production without API_KEYS refuses to build', () => {
  expect(() =>
    buildApp({
      pool: t.db.pool,
      eventStore: t.db.eventStore,
      commands: undefined as never,
      temporal: t.env.client,
      config: { ...t.config, NODE_ENV: 'production', API_KEYS: undefined },
      readModels: undefined as never,
    }),
  ).toThrow(/API_KEYS/);
});
