import net from 'node:net';
import type { Pool } from 'pg';
import { createPool, type RecordedEvent } from '../../src/eventstore';
import {
  ProjectionRunner,
  projectionOwnerPid,
  rebuildProjection,
  type Projection,
} from '../../src/projections';
import { createTestDatabase, projectionSource, type TestDatabase } from '../support/testDatabase';
import { appendTicks, countRows, logProjection, waitCaughtUp, waitFor } from './support';

/**
 * A TCP proxy to Postgres that can go silent: once frozen it drops every byte both ways and
 * passes no close on, as a vanished host or a dead NAT entry would. Neither end sees an
 * error; the server's socket stays open (the proxy's kernel still acknowledges).
 */
async function silenceableProxy(databaseUrl: string) {
  const target = new URL(databaseUrl);
  const sockets = new Set<net.Socket>();
  let silent = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('data', (chunk) => {
        if (!silent) to.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => {
        sockets.delete(from);
        if (!silent) to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    silence: () => {
      silent = true;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('connection limits of projection runners', () => {
  // A regression hangs instead of failing: fail fast.
  jest.setTimeout(30_000);
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('projection_limits');
  });
  afterAll(() => db.drop());

  it('the owner connection has the pool limits, server-side keepalive and an idle timeout', async () => {
    // A projection that writes down the settings of the connection it is applied on.
    const settings: Projection = {
      name: 'settings_log',
      version: 1,
      eventTypes: ['Tick'],
      async createTables(conn, table) {
        await conn.query(`CREATE TABLE IF NOT EXISTS ${table} (name text, setting text)`);
      },
      async handle(conn, _event: RecordedEvent, table) {
        await conn.query(
          `INSERT INTO ${table} SELECT name, setting FROM pg_settings WHERE name = ANY($1)`,
          [
            [
              'statement_timeout',
              'lock_timeout',
              'idle_session_timeout',
              'tcp_keepalives_idle',
              'tcp_keepalives_interval',
              'tcp_keepalives_count',
              'tcp_user_timeout',
            ],
          ],
        );
      },
    };
    const limited = createPool(db.url, {
      max: 4,
      statementTimeoutMs: 1234,
      lockTimeoutMs: 567,
      keepAliveIdleMs: 8000,
    });
    const r = new ProjectionRunner({
      ...projectionSource(limited),
      projections: [settings],
      pollIntervalMs: 100,
      ownerIdleTimeoutMs: 4321,
      log: () => {},
    });
    try {
      await appendTicks(db, 1);
      await r.start();
      await waitCaughtUp(db, settings);
      const rows = await db.pool.query<{ name: string; setting: string }>(
        'SELECT DISTINCT name, setting FROM settings_log ORDER BY name',
      );
      expect(Object.fromEntries(rows.rows.map((row) => [row.name, row.setting]))).toEqual({
        idle_session_timeout: '4321',
        lock_timeout: '567',
        statement_timeout: '1234',
        tcp_keepalives_count: '3',
        tcp_keepalives_idle: '8',
        tcp_keepalives_interval: '4',
        tcp_user_timeout: '20000',
      });
    } finally {
      await r.stop();
      await limited.end();
    }
  });

  it('a runner whose owner connection goes silent is taken over promptly', async () => {
    const projection = logProjection('silent_log');
    await appendTicks(db, 10);
    const proxy = await silenceableProxy(db.url);
    // Runner A's whole process reaches Postgres through the proxy, with the service's limits.
    const poolA: Pool = createPool(proxy.url, { max: 4, queryTimeoutMs: 1000 });
    const options = { projections: [projection], pollIntervalMs: 100, log: () => {} };
    const a = new ProjectionRunner({
      ...options,
      ...projectionSource(poolA),
      ownerIdleTimeoutMs: 1000,
    });
    const b = new ProjectionRunner({
      ...options,
      ...projectionSource(db.pool),
      ownerIdleTimeoutMs: 1000,
    });
    try {
      await a.start();
      await waitCaughtUp(db, projection);
      expect(a.owned).toEqual(['silent_log']);
      await b.start();
      // B keeps polling for the lock; an owner that is merely idle keeps it.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(b.owned).toEqual([]);
      const pidA = await projectionOwnerPid(db.pool, 'silent_log');

      proxy.silence();
      const silencedAt = Date.now();
      await waitFor(async () => b.owned.length === 1, 'runner B to take over', 10_000);
      expect(Date.now() - silencedAt).toBeLessThan(5_000);
      expect(await projectionOwnerPid(db.pool, 'silent_log')).not.toBe(pidA);

      await appendTicks(db, 10);
      await waitCaughtUp(db, projection);
      const ticks = await db.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM events WHERE event_type = 'Tick'",
      );
      const total = Number(ticks.rows[0]!.n);
      expect(await countRows(db, 'silent_log')).toEqual({ total, distinct: total });
    } finally {
      await proxy.close();
      await Promise.all([a.stop(), b.stop()]);
      await poolA.end();
    }
  });

  it('a rebuild is not cut short by the statement and lock timeouts of its pool', async () => {
    const projection = logProjection('patient_log');
    const limited = createPool(db.url, { max: 2, statementTimeoutMs: 200, lockTimeoutMs: 100 });
    // The rebuild's own connection comes from the limited pool; the event reads go through the
    // store on the file's pool, whose batch queries may take longer than 200 ms on a loaded
    // machine (that is no lock wait, and not what this test is about).
    const source = { pool: limited, eventStore: db.eventStore };
    try {
      const first = await rebuildProjection(source, 'patient_log', undefined, {
        projections: [projection],
      });
      // A reader holds the active generation's table for longer than both timeouts; the
      // switch-over must wait for it (it drops that table), not fail.
      const reader = await db.pool.connect();
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM patient_log_g${first.generation}`);
      const released = new Promise((resolve) => setTimeout(resolve, 700))
        .then(() => reader.query('COMMIT'))
        .finally(() => reader.release());
      try {
        const second = await rebuildProjection(source, 'patient_log', undefined, {
          projections: [projection],
        });
        expect(second.generation).toBe(first.generation + 1);
      } finally {
        await released;
      }
      // Both of the pool's connections (the rebuild's included) keep their limits after it.
      const sleeps = [1, 2].map(() => limited.query('SELECT pg_sleep(0.5)'));
      for (const sleep of sleeps) await expect(sleep).rejects.toThrow(/statement timeout/);
    } finally {
      await limited.end();
    }
  });
});
