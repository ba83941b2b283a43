/**
 * `http` suite: the HTTP API under autocannon, in this process, against a listening app.
 *
 *  - http_get_order_vs_bare: GET /orders/{id} through the whole plugin tree (auth, metrics,
 *    correlation, validation, serialisation) vs a bare Fastify route running the same
 *    single SQL query. Goal: ours ≥ 0.8 × bare.
 *  - http_post_order: POST /orders (command + event append + inline projections + saga
 *    start on Temporal, no worker) vs a bare route doing one INSERT — context only.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config';
import { orderDecider } from '../src/domain/order';
import { createPool, migrate } from '../src/eventstore';
import { startTemporalDevServer, type DevServerHandle } from '../src/infra/temporalDevServer';
import { createLogger } from '../src/logger';
import { buildApi } from '../src/system/components';
import { createSystem, type System } from '../src/system/createSystem';
import { PROCESS_ROLES } from '../src/system/roles';
import { round } from './support/stats';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const CONNECTIONS = 32;
const SEEDED_ORDERS = 500;

interface Load {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function load(
  url: string,
  seconds: number,
  request: { method: 'GET' | 'POST'; path: () => string; body?: () => string },
): Promise<Load> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: request.method,
        setupRequest: (req) => ({
          ...req,
          path: request.path(),
          ...(request.body && {
            body: request.body(),
            headers: { 'content-type': 'application/json' },
          }),
        }),
      },
    ],
  });
  return {
    rate: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/** Mean rate and latencies over rounds of equal length; errors summed. */
function combine(rounds: readonly Load[]): Load {
  const mean = (pick: (load: Load) => number) =>
    rounds.reduce((sum, load) => sum + pick(load), 0) / rounds.length;
  return {
    rate: mean((l) => l.rate),
    p50Ms: mean((l) => l.p50Ms),
    p99Ms: mean((l) => l.p99Ms),
    errors: rounds.reduce((sum, load) => sum + load.errors, 0),
  };
}

const listen = async (app: FastifyInstance) => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
};

const orderBody = (sku: string) =>
  JSON.stringify({
    customerId: `cust-${Math.floor(Math.random() * 100)}`,
    paymentAccountId: 'bench-account',
    items: [{ sku, quantity: 1, unitPrice: 1999 }],
    shippingAddress: {
      name: 'Bench',
      line1: '1 Load St',
      city: 'Berlin',
      postalCode: '10115',
      country: 'DE',
    },
  });

export const httpSuite: BenchSuite = {
  name: 'http',
  description: 'HTTP API (autocannon): GET /orders/{id} vs bare Fastify, POST /orders',
  async run(context: BenchContext): Promise<BenchEntries> {
    const seconds = Math.max(2, Math.round(8 * Math.min(context.scale, 4)));
    const database = await context.databases.create('http');
    await migrate(database.url);
    const barePool = createPool(database.url, { max: 20, applicationName: 'bench-http-bare' });

    let devServer: DevServerHandle | undefined;
    let address = process.env.TEMPORAL_ADDRESS;
    if (!address) {
      context.log('starting a Temporal dev server (set TEMPORAL_ADDRESS to use a running one)');
      devServer = await startTemporalDevServer({
        ui: false,
        cliPath: process.env.TEMPORAL_CLI_PATH,
      });
      address = devServer.address;
    }
    const apps: FastifyInstance[] = [];
    let system: System | undefined;
    try {
      const config = loadConfig({
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: `bench-http-${randomUUID()}`,
        LOG_LEVEL: 'silent',
        API_KEYS: 'bench-key:operator',
      });
      // The API as start:api builds it (the api role's system), on the bench's pool size.
      system = createSystem(
        { ...config, DATABASE_URL: database.url },
        {
          applicationName: 'bench-http',
          logger: createLogger('silent', 'bench-http'),
          poolMax: 20,
          inlineProjection: PROCESS_ROLES.api.inlineProjection,
        },
      );
      const { commands } = system;

      context.log(`seeding ${SEEDED_ORDERS} orders`);
      const orderIds = Array.from({ length: SEEDED_ORDERS }, () => randomUUID());
      for (const orderId of orderIds) {
        await commands.handle(
          orderDecider,
          orderId,
          {
            type: 'PlaceOrder',
            data: {
              orderId,
              customerId: 'cust-1',
              paymentAccountId: 'bench-account',
              items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 1999 }],
              shippingAddress: { name: 'B', line1: 'L', city: 'C', postalCode: 'P', country: 'DE' },
            },
            metadata: { now: new Date().toISOString() },
          },
          { commandId: `seed/${orderId}` },
        );
      }
      const randomOrder = () => orderIds[Math.floor(Math.random() * orderIds.length)]!;

      const ours = await buildApi(system, { logger: false, swaggerUi: false });
      apps.push(ours);
      // The same single query getOrderSummary runs, behind a route with nothing else.
      const bare = Fastify({ logger: false });
      apps.push(bare);
      bare.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) => {
        const result = await barePool.query(
          `SELECT order_id, customer_id, payment_account_id, status, lines, total, failure_reason, timeline,
                  placed_at, updated_at, version, last_position
             FROM order_summary WHERE order_id = $1`,
          [request.params.id],
        );
        const row = result.rows[0] as Record<string, unknown> | undefined;
        if (!row) return reply.code(404).send({ status: 404 });
        return row;
      });
      await barePool.query(
        'CREATE TABLE bench_bare_orders (id uuid PRIMARY KEY, body jsonb NOT NULL)',
      );
      bare.post<{ Body: unknown }>('/orders', async (request, reply) => {
        const id = randomUUID();
        await barePool.query('INSERT INTO bench_bare_orders (id, body) VALUES ($1, $2)', [
          id,
          JSON.stringify(request.body),
        ]);
        return reply.code(202).send({ orderId: id });
      });
      const oursUrl = await listen(ours);
      const bareUrl = await listen(bare);
      const authed = (path: () => string) => () => path();

      const get = { method: 'GET' as const, path: () => `/orders/${randomOrder()}` };
      // Authenticated through the query-free header path: autocannon sends the same headers.
      const oursGet = async (duration: number) => {
        const result = await autocannon({
          url: oursUrl,
          connections: CONNECTIONS,
          duration,
          headers: { 'x-api-key': 'bench-key' },
          requests: [
            { method: 'GET', setupRequest: (req) => ({ ...req, path: authed(get.path)() }) },
          ],
        });
        return {
          rate: result.requests.average,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.non2xx,
        };
      };

      context.log('warming up');
      await oursGet(1);
      await load(bareUrl, 1, get);

      // Alternating short rounds: a load spike from elsewhere on the machine hits both sides.
      const rounds = 4;
      const roundSeconds = Math.max(1, Math.round(seconds / rounds));
      context.log(`GET /orders/{id}: ${rounds} alternating rounds of ${roundSeconds}s each side`);
      const oursRounds: Load[] = [];
      const bareRounds: Load[] = [];
      for (let round = 0; round < rounds; round++) {
        oursRounds.push(await oursGet(roundSeconds));
        bareRounds.push(await load(bareUrl, roundSeconds, get));
      }
      const oursGetResult = combine(oursRounds);
      const bareGetResult = combine(bareRounds);

      context.log(`POST /orders: ours ${seconds}s, bare insert ${seconds}s`);
      const oursPost = await (async () => {
        const result = await autocannon({
          url: oursUrl,
          connections: CONNECTIONS,
          duration: seconds,
          headers: { 'x-api-key': 'bench-key', 'content-type': 'application/json' },
          requests: [
            {
              method: 'POST',
              setupRequest: (req) => ({ ...req, path: '/orders', body: orderBody('SKU-1') }),
            },
          ],
        });
        return {
          rate: result.requests.average,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.non2xx,
        };
      })();
      const barePost = await load(bareUrl, seconds, {
        method: 'POST',
        path: () => '/orders',
        body: () => orderBody('SKU-1'),
      });

      const detail = (o: Load, b: Load) => ({
        connections: CONNECTIONS,
        seconds,
        oursErrors: o.errors,
        baselineErrors: b.errors,
      });
      return {
        http_get_order_vs_bare: {
          ...compare(oursGetResult, bareGetResult, 'req/s', detail(oursGetResult, bareGetResult)),
          goal: 0.8,
        },
        http_post_order: compare(oursPost, barePost, 'req/s', {
          ...detail(oursPost, barePost),
          note: 'baseline: bare Fastify route doing one INSERT; ours places the order and starts its saga',
          oursRate: round(oursPost.rate),
        }),
      };
    } finally {
      for (const app of apps) await app.close().catch(() => undefined);
      await system?.close();
      await devServer?.stop();
      await barePool.end();
    }
  },
};
