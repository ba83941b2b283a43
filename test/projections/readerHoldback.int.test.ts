import { Client } from 'pg';
import { Metrics } from '../../src/observability/metrics';
import { describeHoldback, getCatchUpHoldback, getProjectionStatuses } from '../../src/projections';
import { createApiTestApp, type ApiTestApp } from '../api/support/apiApp';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * xids are cluster-wide: a transaction left open in ANOTHER database of the server holds
 * back every catch-up reader of ours. Status, the admin API and metrics must show it.
 */
describe('a transaction open elsewhere on the server', () => {
  let t: ApiTestApp;
  let other: TestDatabase;
  let holder: Client;
  let holderPid: number;

  beforeAll(async () => {
    [t, other] = await Promise.all([
      createApiTestApp('holdback'),
      createTestDatabase('holdback_other_app'),
    ]);
    holder = new Client({ connectionString: other.url, application_name: 'stray-psql' });
    await holder.connect();
  });
  afterAll(async () => {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
    await other.drop();
    await t.close();
  });

  it('counts the held-back events as lag and names the transaction that holds them', async () => {
    holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    await holder.query('BEGIN');
    await holder.query('SELECT pg_current_xact_id()'); // it gets an xid, like any write would

    const before = await getProjectionStatuses(t.db.pool);
    const lagBefore = before.find((s) => s.name === 'account_balance')!.lagEvents;
    // Appended (and committed) after the stray transaction started: readers cannot see them.
    for (const id of ['held-1', 'held-2']) {
      await t.db.eventStore.append(
        `account-${id}`,
        [
          {
            eventId: crypto.randomUUID(),
            type: 'AccountOpened',
            data: { accountId: id, ownerId: 'o', openedAt: new Date().toISOString() },
          },
        ],
        { expectedVersion: 'no_stream' },
      );
    }
    const page = await t.db.eventStore.readAll({ after: 0n, limit: 1000 });
    expect(page.events.filter((e) => e.streamId.startsWith('account-held-'))).toEqual([]);

    // Another test's short transaction may be older for a moment: wait until ours is the horizon.
    let holdback = await getCatchUpHoldback(t.db.pool);
    for (let i = 0; holdback.holder?.pid !== holderPid && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      holdback = await getCatchUpHoldback(t.db.pool);
    }
    expect(holdback.heldBackEvents).toBeGreaterThanOrEqual(2);
    expect(holdback.holder).toMatchObject({
      pid: holderPid,
      applicationName: 'stray-psql',
      state: 'idle in transaction',
      preparedTransaction: null,
    });
    expect(holdback.holder!.database).toContain('holdback_other_app');
    expect(holdback.holder!.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(describeHoldback(holdback).join('\n')).toContain(`pg_terminate_backend(${holderPid})`);

    const statuses = await getProjectionStatuses(t.db.pool);
    const balance = statuses.find((s) => s.name === 'account_balance')!;
    expect(balance.lagEvents).toBe(lagBefore + 2);
    expect(balance.heldBackEvents).toBeGreaterThanOrEqual(2);
    expect(balance.lagSeconds).toBeGreaterThan(0);

    // GET /admin/projections reports the same.
    const response = await t.app.inject({ method: 'GET', url: '/admin/projections' });
    expect(response.statusCode).toBe(200);
    const body = response.json<{
      projections: Array<{ name: string; lagEvents: number; heldBackEvents: number }>;
      readerHoldback: { heldBackEvents: number; holder: { pid: number; applicationName: string } };
    }>();
    expect(body.projections.find((p) => p.name === 'account_balance')).toMatchObject({
      lagEvents: lagBefore + 2,
    });
    expect(body.readerHoldback.heldBackEvents).toBeGreaterThanOrEqual(2);
    expect(body.readerHoldback.holder).toMatchObject({ applicationName: 'stray-psql' });

    // And so do the metrics.
    const metrics = new Metrics({
      defaultMetrics: false,
      projectionStatuses: () => getProjectionStatuses(t.db.pool),
      readerHoldback: () => getCatchUpHoldback(t.db.pool),
    });
    const text = await metrics.registry.metrics();
    const value = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('sagaflow_catchup_held_back_events')).toBeGreaterThanOrEqual(2);
    expect(value('sagaflow_catchup_oldest_transaction_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(
      new RegExp(
        `sagaflow_projection_lag_events\\{projection="account_balance"\\} ${lagBefore + 2}`,
      ),
    );

    // Once it ends, nothing is held back and readers get the events.
    await holder.query('ROLLBACK');
    let after = await getCatchUpHoldback(t.db.pool);
    for (let i = 0; after.heldBackEvents > 0 && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await getCatchUpHoldback(t.db.pool);
    }
    expect(after.heldBackEvents).toBe(0);
    const released = await t.db.eventStore.readAll({ after: 0n, limit: 1000 });
    expect(released.events.filter((e) => e.streamId.startsWith('account-held-'))).toHaveLength(2);
  });
});
