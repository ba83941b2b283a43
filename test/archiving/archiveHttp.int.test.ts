/* eslint-disable @typescript-eslint/no-unsafe-member-access -- assertions on JSON response bodies */
import { createApiTestApp, type ApiTestApp } from '../api/support/apiApp';

/**
 * Over HTTP: an archived stream still reads (flagged `archived`), and a command that would
 * append to it is a 409 STREAM_ARCHIVED problem. The archiving policy never archives an
 * account (accounts are never finished); the store refuses appends to ANY archived stream,
 * so this moves one with archive_streams directly to reach a route that appends.
 */
describe('archived streams over HTTP', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await createApiTestApp('archive-http');
  });
  afterAll(async () => t?.close());

  it('reads an archived stream with archived: true and refuses an append with 409 STREAM_ARCHIVED', async () => {
    const opened = await t.app.inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'ada', initialDeposit: 5_000 },
    });
    expect(opened.statusCode).toBe(201);
    const accountId = opened.json().accountId as string;
    const live = await t.app.inject({
      method: 'POST',
      url: '/accounts',
      payload: { ownerId: 'bo' },
    });
    const liveId = live.json().accountId as string;

    const moved = await t.db.pool.query(
      'SELECT stream_id FROM archive_streams(ARRAY[$1], ARRAY[$2::int])',
      [`account-${accountId}`, opened.json().version],
    );
    expect(moved.rowCount).toBe(1);

    const events = await t.app.inject({
      method: 'GET',
      url: `/streams/account-${accountId}/events`,
    });
    expect(events.statusCode).toBe(200);
    expect(events.json()).toMatchObject({ streamId: `account-${accountId}`, archived: true });
    expect(events.json().events.length).toBeGreaterThan(0);
    const liveEvents = await t.app.inject({
      method: 'GET',
      url: `/streams/account-${liveId}/events`,
    });
    expect(liveEvents.json()).toMatchObject({ archived: false });

    const deposit = await t.app.inject({
      method: 'POST',
      url: `/accounts/${accountId}/deposits`,
      payload: { amount: 100 },
    });
    expect(deposit.statusCode).toBe(409);
    expect(deposit.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(deposit.json()).toMatchObject({ status: 409, code: 'STREAM_ARCHIVED' });
    // The account still reads (from the archive), unchanged.
    const account = await t.app.inject({ method: 'GET', url: `/accounts/${accountId}` });
    expect(account.statusCode).toBe(200);
    expect(account.json()).toMatchObject({ balance: 5_000 });
  });
});
