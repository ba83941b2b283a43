/**
 * `http` suite: the HTTP API under autocannon, in this process, against a listening app.
 *
 *  - http_get_order_vs_bare: GET /orders/{id} through the whole plugin tree (auth, metrics,
 *    correlation, validation, serialisation) vs a bare Fastify route running the same
 *    single SQL query. Goal: ours ≥ 0.8 × bare.
 *  - http_post_order: POST /orders (command + event append + inline projections + saga
 *    start on Temporal, no worker) vs a bare Fastify route making the same append and the
 *    same workflow start with the plain client (support/barePlaceOrder.ts). Goal: ≥ 0.8.
 *
 * Both entries alternate short rounds of each side, at the same concurrency.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config';
import { orderDecider } from '../src/domain/order';
import { createEventStore } from '../src/application/eventStore';
import { createPool, migrate } from '../src/eventstore';
import { startTemporalDevServer, type DevServerHandle } from '../src/infra/temporalDevServer';
import { createLogger } from '../src/logger';
import { buildApi } from '../src/system/components';
import { createSystem, type System } from '../src/system/createSystem';
import { PROCESS_ROLES } from '../src/system/roles';
import { registerBarePlaceOrder } from './support/barePlaceOrder';
import { listenOnFreePort } from './support/listen';
import { round } from './support/stats';
import { compare, type BenchContext, type BenchEntries, type BenchSuite } from './support/suite';

const CONNECTIONS = 32;
const SEEDED_ORDERS = 500;
/** POST rounds are counted: at ~20 starts/s on a loaded dev server, about 4 s each. */
const POST_REQUESTS_PER_ROUND = 96;

interface Load {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * A round of load: for some seconds, or (when responses take seconds, as a workflow start
 * on a busy dev server does) until a number of responses are in, so no request of one
 * side is still running when the other side's round begins.
 */
type RoundLength = { seconds: number } | { requests: number };

interface Target {
  url: string;
  method: 'GET' | 'POST';
  path: () => string;
  body?: () => string;
  headers?: Record<string, string>;
}

async function load(target: Target, length: RoundLength): Promise<Load> {
  const result = await autocannon({
    url: target.url,
    connections: CONNECTIONS,
    ...('seconds' in length ? { duration: length.seconds } : { amount: length.requests }),
    headers: {
      ...target.headers,
      ...(target.body && { 'content-type': 'application/json' }),
    },
    requests: [
      {
        method: target.method,
        setupRequest: (req) => ({
          ...req,
          path: target.path(),
          ...(target.body && { body: target.body() }),
        }),
      },
    ],
  });
  return {
    // A counted round ends with its last response: its rate is responses over its length.
    rate: 'seconds' in length ? result.requests.average : result.requests.total / result.duration,
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

/**
 * Alternating short rounds, ours first: a load spike from elsewhere on the machine (or a
 * store that slows as it fills) hits both sides alike.
 */
async function alternate(
  rounds: number,
  ours: () => Promise<Load>,
  baseline: () => Promise<Load>,
): Promise<{ ours: Load; baseline: Load }> {
  const oursRounds: Load[] = [];
  const baselineRounds: Load[] = [];
  for (let index = 0; index < rounds; index++) {
    oursRounds.push(await ours());
    baselineRounds.push(await baseline());
  }
  return { ours: combine(oursRounds), baseline: combine(baselineRounds) };
}

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
    let bareConnection: Connection | undefined;
    try {
      const config = loadConfig({
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: `bench-http-${randomUUID()}`,
        LOG_LEVEL: 'silent',
        DELIVERY_CONFIRMATION: 'none',
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
      // The same append on the same kind of store (domain schemas, personal-data sealing),
      // over a pool of the same size; the same start on a plain client of its own.
      bareConnection = await Connection.connect({ address });
      registerBarePlaceOrder(bare, {
        store: createEventStore(barePool),
        client: new Client({ connection: bareConnection, namespace: config.TEMPORAL_NAMESPACE }),
        config,
      });
      const oursUrl = await listenOnFreePort(ours);
      const bareUrl = await listenOnFreePort(bare);

      const get = { method: 'GET' as const, path: () => `/orders/${randomOrder()}` };
      const post = {
        method: 'POST' as const,
        path: () => '/orders',
        body: () => orderBody('SKU-1'),
      };
      // Authenticated through the query-free header path.
      const auth = { 'x-api-key': 'bench-key' };
      const oursGet: Target = { url: oursUrl, ...get, headers: auth };
      const bareGet: Target = { url: bareUrl, ...get };
      const oursPost: Target = { url: oursUrl, ...post, headers: auth };
      const barePost: Target = { url: bareUrl, ...post };

      context.log('warming up');
      for (const target of [oursGet, bareGet]) await load(target, { seconds: 1 });
      for (const target of [oursPost, barePost]) await load(target, { requests: CONNECTIONS });

      const rounds = 4;
      const roundSeconds = Math.max(1, Math.round(seconds / rounds));
      context.log(`GET /orders/{id}: ${rounds} alternating rounds of ${roundSeconds}s each side`);
      const getResults = await alternate(
        rounds,
        () => load(oursGet, { seconds: roundSeconds }),
        () => load(bareGet, { seconds: roundSeconds }),
      );
      const postRequests = context.scaled(POST_REQUESTS_PER_ROUND, CONNECTIONS);
      context.log(
        `POST /orders: ${rounds} alternating rounds of ${postRequests} requests each side`,
      );
      const postResults = await alternate(
        rounds,
        () => load(oursPost, { requests: postRequests }),
        () => load(barePost, { requests: postRequests }),
      );

      const entry = ({ ours: o, baseline: b }: { ours: Load; baseline: Load }) => ({
        ...compare(o, b, 'req/s', {
          connections: CONNECTIONS,
          rounds,
          oursErrors: o.errors,
          baselineErrors: b.errors,
        }),
        goal: 0.8,
      });
      return {
        http_get_order_vs_bare: { ...entry(getResults), roundSeconds },
        http_post_order: {
          ...entry(postResults),
          requestsPerRound: postRequests,
          note: 'baseline: bare Fastify route, same OrderPlaced append and plain-client workflow start',
          oursRate: round(postResults.ours.rate),
        },
      };
    } finally {
      for (const app of apps) await app.close().catch(() => undefined);
      await system?.close();
      await bareConnection?.close();
      await devServer?.stop();
      await barePool.end();
    }
  },
};
