/**
 * `latency` suite: one saga at a time on an idle system, end to end.
 *
 *  - saga_idle_latency: `POST /orders` through the API until the order reads COMPLETED in
 *    `order_summary`, one order at a time, on activities and on local activities, vs a bare
 *    Fastify route that starts the no-op workflow of as many activities with the plain
 *    client, timed until its result. p50 and p99 over 50 sagas each, alternating sides.
 *    Goal: ours at most 1.2 × the no-op workflow's p50, i.e. a ratio (baseline p50 ÷ ours)
 *    of at least 0.83.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { DirectCommands } from '../src/application/directCommands';
import { openMerchantAccount } from '../src/application/merchantAccount';
import { loadConfig } from '../src/config';
import { migrate } from '../src/eventstore';
import { startTemporalDevServer } from '../src/infra/temporalDevServer';
import { createLogger } from '../src/logger';
import { buildApi } from '../src/system/components';
import { createSystem, type System } from '../src/system/createSystem';
import { PROCESS_ROLES } from '../src/system/roles';
import { sagaWorkerParts } from '../src/worker/createWorker';
import * as noopActivities from './fixtures/noopActivities';
import { listenOnFreePort } from './support/listen';
import { round, summarizeLatencies } from './support/stats';
import type { BenchContext, BenchSuite } from './support/suite';
import { bundleBenchWorkflows } from './support/workflowBatch';

const SAGAS = 50;
const WARM_UP = 5;
/** Activities a one-line order runs on its happy path: the no-op workflow runs as many. */
const ACTIVITIES_PER_ORDER = 11;
const TASK_QUEUE = 'bench-latency';
const API_KEY = 'bench-key';
/** How often the read model is polled for COMPLETED: the figures' resolution. */
const POLL_MS = 2;

type Side = 'activities' | 'local' | 'baseline';

export const latencySuite: BenchSuite = {
  name: 'latency',
  description: `${SAGAS} order sagas one at a time, POST /orders → COMPLETED in the read model, vs the no-op workflow`,
  async run(context: BenchContext) {
    const count = context.scaled(SAGAS, 10);
    const database = await context.databases.create('latency');
    await migrate(database.url);
    const server = await startTemporalDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH,
      ui: false,
    });
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      APPROVAL_THRESHOLD: String(Number.MAX_SAFE_INTEGER),
      DELIVERY_CONFIRMATION: 'none',
      API_KEYS: `${API_KEY}:operator`,
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent', 'bench-latency');
    // The all-in-one process's system, once per step kind (the API fixes it into each saga).
    const systemFor = (kind: 'on' | 'off') =>
      createSystem(
        { ...config, DATABASE_URL: database.url, SAGA_LOCAL_ACTIVITIES: kind },
        {
          applicationName: `bench-latency-${kind}`,
          logger,
          poolMax: 10,
          inlineProjection: PROCESS_ROLES['all-in-one'].inlineProjection,
        },
      );
    const systems = { activities: systemFor('off'), local: systemFor('on') };
    const apps: FastifyInstance[] = [];
    const connection = await NativeConnection.connect({ address: server.address });
    try {
      const worker = await Worker.create({
        connection,
        taskQueue: TASK_QUEUE,
        workflowBundle: await bundleBenchWorkflows(),
        activities: {
          ...sagaWorkerParts({
            commands: systems.activities.commands,
            eventStore: systems.activities.eventStore,
            config,
          }).activities,
          ...noopActivities,
        },
      });
      await seed(systems.activities, (count + WARM_UP) * 2);
      const urls = {
        activities: await listen(
          await buildApi(systems.activities, { logger: false, swaggerUi: false }),
          apps,
        ),
        local: await listen(
          await buildApi(systems.local, { logger: false, swaggerUi: false }),
          apps,
        ),
        baseline: await listen(
          bareNoopRoute(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE })),
          apps,
        ),
      };
      const pool = systems.activities.pool;
      let customers = 0;
      const once: Record<Side, () => Promise<number>> = {
        activities: () => orderUntilCompleted(urls.activities, pool, customers++),
        local: () => orderUntilCompleted(urls.local, pool, customers++),
        baseline: () => noopUntilDone(urls.baseline),
      };
      const samples: Record<Side, number[]> = { activities: [], local: [], baseline: [] };
      const sides: Side[] = ['activities', 'local', 'baseline'];
      return await worker.runUntil(async () => {
        for (let i = 0; i < WARM_UP; i++) for (const side of sides) await once[side]();
        context.log(`latency: ${count} sagas per side, one at a time, alternating`);
        for (let i = 0; i < count; i++) {
          for (const side of sides) samples[side].push(await once[side]());
        }
        const baseline = summarizeLatencies(samples.baseline);
        const entry = (side: 'activities' | 'local') => {
          const ours = summarizeLatencies(samples[side]);
          context.log(
            `latency on ${side}: p50 ${round(ours.p50Ms)} ms, p99 ${round(ours.p99Ms)} ms; no-op workflow p50 ${round(baseline.p50Ms)} ms, p99 ${round(baseline.p99Ms)} ms`,
          );
          return {
            ours: round(ours.p50Ms),
            baseline: round(baseline.p50Ms),
            // Lower is better here: the ratio is baseline ÷ ours, so 0.83 means 1.2 × slower.
            ratio: baseline.p50Ms / ours.p50Ms,
            unit: 'ms (p50)',
            oursP50Ms: round(ours.p50Ms),
            oursP99Ms: round(ours.p99Ms),
            baselineP50Ms: round(baseline.p50Ms),
            baselineP99Ms: round(baseline.p99Ms),
            goal: round(1 / 1.2),
            sagas: count,
            pollMs: POLL_MS,
          };
        };
        return {
          saga_idle_latency_vs_noop_workflow: entry('activities'),
          saga_idle_latency_local_activities_vs_noop_workflow: entry('local'),
        };
      });
    } finally {
      for (const app of apps) await app.close().catch(() => undefined);
      await systems.activities.close();
      await systems.local.close();
      await connection.close();
      await server.stop();
    }
  },
};

async function seed(system: System, customers: number): Promise<void> {
  const direct = new DirectCommands(system.commands);
  await openMerchantAccount(system.commands, system.config.MERCHANT_ACCOUNT_ID);
  await direct.restock(
    { sku: 'sku-latency', quantity: 1_000_000, reference: 'seed' },
    { commandId: 'bench/restock' },
  );
  for (let i = 0; i < customers; i++) {
    await direct.openAccount(
      { accountId: `cust-${i}`, ownerId: `cust-${i}`, initialDeposit: 1_000_000 },
      { commandId: `bench/open/cust-${i}` },
    );
  }
}

/** POST /orders, then polls the read model until the order is COMPLETED: ms end to end. */
async function orderUntilCompleted(url: string, pool: Pool, customer: number): Promise<number> {
  const began = performance.now();
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({
      customerId: `c-${customer}`,
      paymentAccountId: `cust-${customer}`,
      items: [{ sku: 'sku-latency', quantity: 1, unitPrice: 1_000 }],
      shippingAddress: {
        name: 'Bench',
        line1: '1 Loop',
        city: 'Load',
        postalCode: '0',
        country: 'GB',
      },
    }),
  });
  if (response.status !== 202)
    throw new Error(`POST /orders answered ${response.status}: ${await response.text()}`);
  const { orderId } = (await response.json()) as { orderId: string };
  for (;;) {
    const { rows } = await pool.query<{ status: string }>(
      'SELECT status FROM order_summary WHERE order_id = $1',
      [orderId],
    );
    const status = rows[0]?.status;
    if (status === 'COMPLETED') return performance.now() - began;
    if (status === 'CANCELLED')
      throw new Error(`order ${orderId} was cancelled: the figures would lie`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A bare route that starts the no-op workflow with the plain client and waits for its result. */
function bareNoopRoute(client: Client): FastifyInstance {
  const app = Fastify({ logger: false });
  let started = 0;
  app.post('/noop', async (_request, reply) => {
    const handle = await client.workflow.start('baselineWorkflow', {
      workflowId: `latency-baseline-${started++}`,
      taskQueue: TASK_QUEUE,
      args: [ACTIVITIES_PER_ORDER],
    });
    return reply.code(202).send({ workflowId: handle.workflowId });
  });
  app.get<{ Params: { id: string } }>('/noop/:id', async (request) => {
    await client.workflow.getHandle(request.params.id).result();
    return { done: true };
  });
  return app;
}

/** POST /noop, then waits on the bare route for the workflow's result: ms end to end. */
async function noopUntilDone(url: string): Promise<number> {
  const began = performance.now();
  const response = await fetch(`${url}/noop`, { method: 'POST' });
  const { workflowId } = (await response.json()) as { workflowId: string };
  await fetch(`${url}/noop/${workflowId}`);
  return performance.now() - began;
}

/** Listens like every bench app, remembering it to close at the end. */
function listen(app: FastifyInstance, apps: FastifyInstance[]): Promise<string> {
  apps.push(app);
  return listenOnFreePort(app);
}
