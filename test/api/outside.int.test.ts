/* eslint-disable @typescript-eslint/no-unsafe-member-access -- assertions on JSON response bodies */
import type { InjectOptions } from 'fastify';
import { createApiTestApp, type ApiTestApp } from './support/apiApp';

/** What an outside client (schemathesis against /docs/json) checks, without API_KEYS. */
const PROBLEM = /^application\/problem\+json/;
let t: ApiTestApp;

beforeAll(async () => {
  t = await createApiTestApp('outside');
});
afterAll(async () => t?.close());

type Operation = { security?: unknown[]; parameters?: Array<{ in: string }>; responses: object };
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
