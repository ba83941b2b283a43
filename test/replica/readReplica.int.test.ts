/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- assertions on JSON response bodies */
/**
 * Reads from a real streaming-replication standby (DATABASE_READ_URL): served by it, read
 * your writes under lag, fallback to the primary while it is down, and promotion.
 *
 * Proof that the standby answered: with its replay paused, a write on the primary is in the
 * primary's read model at once, so an answer without it can only come from the standby.
 */
import '../api/support/esmShim';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { createEventStore } from '../../src/application/eventStore';
import { loadConfig } from '../../src/config';
import { migrate } from '../../src/eventstore';
import type { ReadSide } from '../../src/infra/readReplica';
import { buildApi } from '../../src/system/components';
import { createSystem } from '../../src/system/createSystem';
import pino from 'pino';
import { TEST_TEMPORAL_ADDRESS } from '../support/infrastructure';
import { startReplicatedCluster, type ReplicatedCluster } from '../support/replication';
import { uniqueTaskQueue } from '../support/temporal';

const DATABASE = 'sagaflow';
const READ_WAIT_MS = 1500;

interface System {
  app: FastifyInstance;
  pool: Pool;
  reads: ReadSide;
  close(): Promise<void>;
}

let cluster: ReplicatedCluster;
let system: System;
const warnings: string[] = [];

/** The API as the composition root wires it, on DATABASE_URL (and DATABASE_READ_URL when given). */
async function startSystem(databaseUrl: string, readUrl?: string): Promise<System> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    ...(readUrl && { DATABASE_READ_URL: readUrl }),
    REPLICA_CHECK_INTERVAL_MS: '200',
    TEMPORAL_ADDRESS: process.env[TEST_TEMPORAL_ADDRESS]!,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('replica'),
    LOG_LEVEL: 'warn',
  });
  // Warnings (the fallback's) are kept for the assertions, not printed.
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  const root = createSystem(
    { ...config, DATABASE_URL: databaseUrl },
    { applicationName: 'sagaflow-replica-test', logger, poolMax: 5 },
  );
  const app = await buildApi(root, { logger: false, readWaitMs: READ_WAIT_MS, swaggerUi: false });
  await app.ready();
  return {
    app,
    pool: root.pool,
    reads: root.reads,
    async close() {
      await app.close();
      await root.close();
    },
  };
}

beforeAll(async () => {
  cluster = await startReplicatedCluster();
  await cluster.primary.query(`CREATE DATABASE ${DATABASE}`);
  await migrate(cluster.primary.url(DATABASE));
  await cluster.waitForReplay();
  system = await startSystem(cluster.primary.url(DATABASE), cluster.standby.url(DATABASE));
});

afterAll(async () => {
  await system?.close();
  await cluster?.destroy();
});

const pauseReplay = () => cluster.standby.query('SELECT pg_wal_replay_pause()');
const resumeReplay = () => cluster.standby.query('SELECT pg_wal_replay_resume()');

async function deposit(accountId: string, amount: number): Promise<string> {
  const response = await system.app.inject({
    method: 'POST',
    url: `/accounts/${accountId}/deposits`,
    payload: { amount },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ position: string }>().position;
}

async function primaryBalance(accountId: string): Promise<number> {
  const result = await system.pool.query<{ balance: string }>(
    'SELECT balance FROM account_balance WHERE account_id = $1',
    [accountId],
  );
  return Number(result.rows[0]?.balance);
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const fallbackCount = () =>
  [...(system.reads.replica?.fallbacks().values() ?? [])].reduce((a, b) => a + b, 0);

const scrape = async () => (await system.app.inject({ url: '/metrics' })).body;

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a read replica (DATABASE_READ_URL)', () => {
  const accountId = 'acc-replica-1';

  it('serves read models and the event feeds from the standby', async () => {
    await until(async () => (await system.reads.replica!.check()).ok);
    const fallbacksBefore = fallbackCount();
    const opened = await system.app.inject({
      method: 'POST',
      url: '/accounts',
      payload: { accountId, ownerId: 'owner-1', initialDeposit: 100 },
    });
    expect(opened.statusCode).toBe(201);
    await cluster.waitForReplay();
    const before = await system.app.inject({ url: `/accounts/${accountId}` });
    expect(before.json().balance).toBe(100);
    const eventsBefore = (await system.app.inject({ url: '/events?after=0&limit=1000' })).json()
      .events.length as number;
    const streamUrl = `/streams/account-${accountId}/events`;
    const streamBefore = (await system.app.inject({ url: streamUrl })).json().events
      .length as number;

    await pauseReplay();
    try {
      await deposit(accountId, 50);
      expect(await primaryBalance(accountId)).toBe(150);
      // Only the paused standby can still answer without the deposit.
      expect((await system.app.inject({ url: `/accounts/${accountId}` })).json().balance).toBe(100);
      const feed = (await system.app.inject({ url: '/events?after=0&limit=1000' })).json();
      expect(feed.events).toHaveLength(eventsBefore);
      const stream = (await system.app.inject({ url: streamUrl })).json();
      expect(stream.events).toHaveLength(streamBefore);
      const onPrimary = await system.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM events WHERE stream_id = $1',
        [`account-${accountId}`],
      );
      expect(Number(onPrimary.rows[0]?.n)).toBe(streamBefore + 1);
      // And the standby has the API's read connections.
      const sessions = await cluster.standby.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sagaflow-replica-test-read'",
      );
      expect(Number(sessions[0]?.n)).toBeGreaterThan(0);
    } finally {
      await resumeReplay();
    }
    await cluster.waitForReplay();
    expect((await system.app.inject({ url: `/accounts/${accountId}` })).json().balance).toBe(150);
    expect(fallbackCount()).toBe(fallbacksBefore);
  });

  it('serves the integration-event feed from the standby', async () => {
    const store = createEventStore(system.pool);
    const placed = (orderId: string) => ({
      eventId: randomUUID(),
      type: 'OrderPlaced',
      schemaVersion: 2,
      data: {
        orderId,
        customerId: 'cust-replica',
        paymentAccountId: accountId,
        items: [{ sku: 'sku-1', quantity: 1, unitPrice: 250, currency: 'EUR' }],
        total: 250,
        shippingAddress: { name: 'n', line1: 'l', city: 'c', postalCode: 'p', country: 'GB' },
        placedAt: '2026-01-01T00:00:00.000Z',
      },
    });
    const types = async () =>
      (
        (await system.app.inject({ url: '/integration-events?after=0&limit=1000' })).json()
          .messages as Array<{ type: string; subject: string }>
      ).map((m) => `${m.type} ${m.subject}`);
    await store.append('order-o-replica-1', [placed('o-replica-1')], {
      expectedVersion: 'no_stream',
    });
    await cluster.waitForReplay();
    expect(await types()).toEqual(['order.placed.v1 o-replica-1']);

    await pauseReplay();
    try {
      await store.append(
        'order-o-replica-1',
        [{ eventId: randomUUID(), type: 'OrderCompleted', data: { orderId: 'o-replica-1' } }],
        { expectedVersion: 1 },
      );
      // Only the paused standby can still answer without the completion.
      expect(await types()).toEqual(['order.placed.v1 o-replica-1']);
    } finally {
      await resumeReplay();
    }
    await cluster.waitForReplay();
    expect(await types()).toEqual([
      'order.placed.v1 o-replica-1',
      'order.completed.v1 o-replica-1',
    ]);
  });

  it('the live SSE feed runs off the standby and moves on when it replays', async () => {
    await system.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (system.app.server.address() as AddressInfo).port;
    const total = (await system.app.inject({ url: '/events?after=0&limit=1000' })).json().events
      .length as number;
    const ids: string[] = [];
    let wake: () => void = () => {};
    const request = http.get(
      `http://127.0.0.1:${port}/events`,
      { headers: { accept: 'text/event-stream' } },
      (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          ids.push(...[...chunk.matchAll(/^id: (\d+)$/gm)].map((match) => match[1]!));
          wake();
        });
      },
    );
    const seen = (count: number) =>
      until(async () => {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
        return ids.length >= count;
      });
    try {
      await seen(total);
      await pauseReplay();
      try {
        await deposit(accountId, 1);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(ids).toHaveLength(total); // the standby has not replayed it
      } finally {
        await resumeReplay();
      }
      await seen(total + 1);
      expect(ids).toHaveLength(total + 1);
    } finally {
      request.destroy();
    }
  });

  it('read-your-writes: minPosition waits for the standby to replay the write, else answers stale', async () => {
    await pauseReplay();
    let position: string;
    try {
      position = await deposit(accountId, 10);
      const started = Date.now();
      const stale = await system.app.inject({
        url: `/accounts/${accountId}?minPosition=${position}`,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(READ_WAIT_MS - 50);
      expect(stale.headers['x-read-model-stale']).toBe('true');
      expect(stale.json().balance).toBe(151);

      // Lag shows in the metrics while replay is paused.
      const status = await system.reads.replica!.check();
      expect(status.ok).toBe(true);
      expect(status.lagBytes).toBeGreaterThan(0);
      const text = await scrape();
      expect(metric(text, 'sagaflow_replica_lag_bytes')).toBeGreaterThan(0);
      expect(metric(text, 'sagaflow_replica_up')).toBe(1);

      // A read that is waiting when replay resumes answers fresh, unmarked.
      const waiting = system.app.inject({ url: `/accounts/${accountId}?minPosition=${position}` });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await resumeReplay();
      const fresh = await waiting;
      expect(fresh.headers['x-read-model-stale']).toBeUndefined();
      expect(fresh.json().balance).toBe(161);
    } finally {
      await resumeReplay();
    }
    await cluster.waitForReplay();
    const caughtUp = await system.reads.replica!.check();
    expect(caughtUp.lagSeconds).toBe(0);
  });

  it('while the standby is down, /ready reports it and reads fall back to the primary (counted)', async () => {
    await cluster.standby.stop('fast');
    try {
      await until(async () => !(await system.reads.replica!.check()).ok);
      const ready = await system.app.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({
        status: 'degraded',
        checks: { postgres: { ok: true }, replica: { ok: false, error: 'unavailable' } },
      });
      const position = await deposit(accountId, 5);
      const read = await system.app.inject({
        url: `/accounts/${accountId}?minPosition=${position}`,
      });
      expect(read.statusCode).toBe(200);
      expect(read.json().balance).toBe(166);
      expect(read.headers['x-read-model-stale']).toBeUndefined();
      const feed = await system.app.inject({ url: '/events?after=0' });
      expect(feed.statusCode).toBe(200);
      const text = await scrape();
      expect(metric(text, 'sagaflow_replica_up')).toBe(0);
      expect(metric(text, 'sagaflow_replica_read_fallbacks_total')).toBeGreaterThan(0);
      expect(warnings.some((line) => line.includes('read replica unavailable'))).toBe(true);
    } finally {
      await cluster.standby.start();
    }
    await until(async () => (await system.reads.replica!.check()).ok);
    await cluster.waitForReplay();
    expect((await system.app.inject({ url: '/ready' })).json().status).toBe('ready');
    const fallbacks = fallbackCount();
    await system.app.inject({ url: `/accounts/${accountId}` });
    expect(fallbackCount()).toBe(fallbacks);
  });

  it('after the primary stops, the promoted standby carries on with nothing lost', async () => {
    await deposit(accountId, 1);
    await cluster.waitForReplay();
    const everything = async () =>
      (await system.app.inject({ url: '/events?after=0&limit=1000' })).json().events as unknown[];
    const eventsBefore = await everything();
    const balanceBefore = await primaryBalance(accountId);

    // The runbook: the primary is gone; promote the standby, point DATABASE_URL at it and
    // unset DATABASE_READ_URL until a new standby is built from it.
    await system.close();
    await cluster.primary.stop('immediate');
    await cluster.standby.promote();
    system = await startSystem(cluster.standby.url(DATABASE));

    expect(await everything()).toEqual(eventsBefore);
    expect(await primaryBalance(accountId)).toBe(balanceBefore);
    const position = await deposit(accountId, 4);
    const read = await system.app.inject({
      url: `/accounts/${accountId}?minPosition=${position}`,
    });
    expect(read.json().balance).toBe(balanceBefore + 4);
    expect(await everything()).toHaveLength(eventsBefore.length + 1);
    expect((await system.app.inject({ url: '/ready' })).json().checks.replica).toBeUndefined();
  });
});
