import {
  ALL_PROJECTIONS,
  accountBalanceProjection,
  createInlineProjector,
  getAccountBalance,
  getInventoryLevel,
  getOrderSummary,
  getProjectionStatuses,
  getTransferSummary,
  InvalidCursorError,
  listOrderSummaries,
  ProjectionRunner,
  rebuildProjection,
  type RebuildProgress,
} from '../../src/projections';
import { SagaHarness } from '../support/sagaHarness';
import { waitFor } from './support';

const VIEWS = {
  order_summary: 'order_id',
  account_balance: 'account_id',
  inventory_level: 'sku',
  transfer_summary: 'transfer_id',
} as const;

describe('read models built live by sagas (inline + catch-up) vs rebuilt from scratch', () => {
  const h = new SagaHarness('projection_sagas', {
    commandHandlerOptions: (db) => ({
      afterAppend: createInlineProjector(db.pool, ALL_PROJECTIONS, () => {}),
    }),
  });
  let runner: ProjectionRunner;

  beforeAll(async () => {
    await h.start();
    // Catch-up runs while inline projection writes the same rows: both must agree.
    runner = new ProjectionRunner({
      pool: h.db.pool,
      eventStore: h.db.eventStore,
      pollIntervalMs: 100,
      log: () => {},
    });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
    await h.stop();
  });

  const snapshot = async () => {
    const result: Record<string, unknown[]> = {};
    for (const [view, key] of Object.entries(VIEWS)) {
      result[view] = (await h.db.pool.query(`SELECT * FROM ${view} ORDER BY ${key}`)).rows;
    }
    return result;
  };
  const caughtUp = () =>
    waitFor(async () => {
      const statuses = await getProjectionStatuses(h.db.pool);
      return statuses.every((s) => s.lagEvents === 0 && s.state === 'running') && statuses;
    }, 'all projections to catch up');

  it('serves order, account, inventory and transfer read models', async () => {
    await h.openAccount('rm-cust', 10_000);
    await h.openAccount('rm-poor', 100);
    await h.openAccount('rm-a', 5_000);
    await h.openAccount('rm-b', 0);
    await h.restock('rm-sku', 10);
    const completed = await h.placeOrder({
      orderId: 'rm-ok',
      customerId: 'rm-c1',
      paymentAccountId: 'rm-cust',
      items: [{ sku: 'rm-sku', quantity: 2, unitPrice: 1_000 }],
    });
    const cancelled = await h.placeOrder({
      orderId: 'rm-poor',
      customerId: 'rm-c2',
      paymentAccountId: 'rm-poor',
      items: [{ sku: 'rm-sku', quantity: 1, unitPrice: 1_000 }],
    });
    const transferOk = await h.startTransfer('rm-t1', 'rm-a', 'rm-b', 1_200);
    const transferFail = await h.startTransfer('rm-t2', 'rm-b', 'rm-a', 999_999);
    expect((await h.result(completed.sagaId)).outcome).toBe('COMPLETED');
    expect((await h.result(cancelled.sagaId)).outcome).toBe('CANCELLED');
    expect((await h.result(transferOk.sagaId)).outcome).toBe('COMPLETED');
    expect((await h.result(transferFail.sagaId)).outcome).toBe('FAILED');
    await caughtUp();

    // Inline projection gives read-your-writes; catch-up has caught up on top of it.
    const ok = await getOrderSummary(h.db.pool, 'rm-ok');
    expect(ok).toMatchObject({
      orderId: 'rm-ok',
      customerId: 'rm-c1',
      paymentAccountId: 'rm-cust',
      status: 'COMPLETED',
      lines: [{ sku: 'rm-sku', quantity: 2, unitPrice: 1_000 }],
      total: 2_000,
      sagaId: 'order-rm-ok',
      failureReason: null,
    });
    expect(ok!.timeline.map((t) => t.status)).toEqual([
      'PLACED',
      'STOCK_RESERVED',
      'SHIPMENT_BOOKED',
      'PAID',
      'DISPATCHED',
      'COMPLETED',
    ]);
    expect(ok!.version).toBe(6);
    expect(JSON.stringify(ok)).not.toContain('Lovelace'); // no shipping address
    const poor = await getOrderSummary(h.db.pool, 'rm-poor');
    expect(poor).toMatchObject({ status: 'CANCELLED' });
    expect(poor!.failureReason).toMatch(/INSUFFICIENT_FUNDS/);
    expect(await getOrderSummary(h.db.pool, 'nope')).toBeUndefined();

    expect(await getAccountBalance(h.db.pool, 'rm-cust')).toMatchObject({
      accountId: 'rm-cust',
      ownerId: 'owner-of-rm-cust',
      balance: await h.balance('rm-cust'),
      status: 'OPEN',
    });
    expect((await getAccountBalance(h.db.pool, 'rm-b'))!.balance).toBe(1_200);
    expect(await getInventoryLevel(h.db.pool, 'rm-sku')).toMatchObject({
      sku: 'rm-sku',
      received: 10,
      committed: 2,
      reserved: 0,
      available: 8,
    });
    expect(await getTransferSummary(h.db.pool, 'rm-t1')).toMatchObject({
      transferId: 'rm-t1',
      fromAccountId: 'rm-a',
      toAccountId: 'rm-b',
      amount: 1_200,
      status: 'COMPLETED',
      reason: null,
      sagaId: 'transfer-rm-t1',
    });
    const failed = await getTransferSummary(h.db.pool, 'rm-t2');
    expect(failed).toMatchObject({ status: 'FAILED' });
    expect(failed!.reason).toMatch(/INSUFFICIENT_FUNDS/);

    // Keyset pagination walks every order exactly once.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listOrderSummaries(h.db.pool, { limit: 1, ...(cursor && { cursor }) });
      seen.push(...page.items.map((o) => o.orderId));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen.sort()).toEqual(['rm-ok', 'rm-poor']);
    const byCustomer = await listOrderSummaries(h.db.pool, { customerId: 'rm-c2', limit: 10 });
    expect(byCustomer).toMatchObject({ items: [{ orderId: 'rm-poor' }], nextCursor: null });
    const byStatus = await listOrderSummaries(h.db.pool, { status: 'COMPLETED', limit: 10 });
    expect(byStatus.items.map((o) => o.orderId)).toEqual(['rm-ok']);
    await expect(
      listOrderSummaries(h.db.pool, { limit: 1, cursor: 'not a cursor!' }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(
      listOrderSummaries(h.db.pool, {
        limit: 1,
        cursor: Buffer.from('{"x":1}').toString('base64url'),
      }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it('a rebuild from scratch gives the same rows as the live build, and readers switch over', async () => {
    await caughtUp();
    const live = await snapshot();
    expect(live.order_summary!.length).toBe(2);
    for (const projection of ALL_PROJECTIONS) {
      const progress: RebuildProgress[] = [];
      const result = await rebuildProjection(h.db, projection.name, (p) => progress.push(p));
      expect(result.generation).toBe(2);
      expect(progress.at(-1)!.done).toBe(result.events);
    }
    const statuses = await caughtUp();
    expect(statuses.map((s) => s.generation)).toEqual([2, 2, 2, 2]);
    expect(await snapshot()).toEqual(live);

    // The live runner keeps the new generation up to date.
    await h.openAccount('rm-late', 42);
    await caughtUp();
    expect((await getAccountBalance(h.db.pool, 'rm-late'))!.balance).toBe(42);
  });

  it('a new projection version rebuilds on start and keeps serving meanwhile', async () => {
    await caughtUp();
    const before = await snapshot();
    await runner.stop();
    const v2 = { ...accountBalanceProjection, version: 2 };
    const projections = ALL_PROJECTIONS.map((p) => (p.name === v2.name ? v2 : p));
    runner = new ProjectionRunner({
      pool: h.db.pool,
      eventStore: h.db.eventStore,
      projections,
      pollIntervalMs: 100,
      log: () => {},
    });
    await runner.start();
    const upgraded = await waitFor(async () => {
      const status = (await getProjectionStatuses(h.db.pool, projections)).find(
        (s) => s.name === 'account_balance',
      );
      return status?.version === 2 && status.lagEvents === 0 && status;
    }, 'the version 2 rebuild');
    expect(upgraded.generation).toBe(3);
    expect(await snapshot()).toEqual(before);
  });
});
