import { Client } from 'pg';
import Fastify from 'fastify';
import { errorsPlugin } from '../../src/api/plugins/errors';
import { createApiTestApp, type ApiTestApp } from './support/apiApp';

/**
 * A query that times out (statement_timeout, lock_timeout, the pg client's query_timeout)
 * or a database that cannot be reached is no bug of the request: 503 + Retry-After, with a
 * generic detail (never the SQL or the Postgres message).
 */
describe('database timeouts over HTTP', () => {
  const apps: ApiTestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  /** GET /accounts/:id while another session holds the read model's table locked. */
  async function getWhileLocked(t: ApiTestApp) {
    const opened = await t.app.inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'owner-1', initialDeposit: 5 },
    });
    expect(opened.statusCode).toBe(201);
    const { accountId } = opened.json<{ accountId: string }>();
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE account_balance_g1 IN ACCESS EXCLUSIVE MODE');
      return await t.app.inject({ method: 'GET', url: `/accounts/${accountId}` });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  }

  const expect503 = (response: Awaited<ReturnType<typeof getWhileLocked>>, code: string): void => {
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.headers['retry-after']).toBe('2');
    const body = response.json<{ code: string; detail: string; status: number }>();
    expect(body).toMatchObject({ status: 503, code, title: 'Service Unavailable' });
    expect(body.detail).not.toMatch(/select|account_balance|canceling|statement|lock timeout/i);
  };

  it.each([
    ['statement_timeout (57014)', { statementTimeoutMs: 300 }, 'DATABASE_TIMEOUT'],
    ['lock_timeout (55P03)', { lockTimeoutMs: 200 }, 'DATABASE_TIMEOUT'],
    ['the pg client query_timeout', { queryTimeoutMs: 300 }, 'DATABASE_TIMEOUT'],
  ])('answers 503 with Retry-After on %s', async (_label, limits, code) => {
    const t = await createApiTestApp('db_timeouts', {}, {}, limits);
    apps.push(t);
    expect503(await getWhileLocked(t), code);
  });

  it('answers 503 when Postgres refuses connections (too many clients, connection refused)', async () => {
    const app = Fastify();
    await app.register(errorsPlugin);
    const tooMany = Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const bothRefused = new AggregateError([refused, refused], '');
    app.get('/too-many', () => Promise.reject(tooMany));
    app.get('/refused', () => Promise.reject(refused));
    app.get('/refused-all', () => Promise.reject(bothRefused));
    app.get('/wrapped', () => Promise.reject(new Error('load failed', { cause: tooMany })));
    app.get('/bug', () => Promise.reject(new TypeError('x is undefined')));
    for (const url of ['/too-many', '/refused', '/refused-all', '/wrapped']) {
      const response = await app.inject({ method: 'GET', url });
      expect503(response, 'DATABASE_UNAVAILABLE');
    }
    const bug = await app.inject({ method: 'GET', url: '/bug' });
    expect(bug.statusCode).toBe(500);
    expect(bug.headers['retry-after']).toBeUndefined();
    await app.close();
  });

  it('documents 503 on the routes', async () => {
    const t = apps[0]!;
    const spec = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    }>();
    expect(spec.paths['/accounts/{id}']?.get?.responses['503']).toBeDefined();
    expect(spec.paths['/orders']?.post?.responses['503']).toBeDefined();
  });
});
