import { CommandHandler, DomainRejection } from '../../src/application/commandHandler';
import { DirectCommands } from '../../src/application/directCommands';
import {
  accountDecider,
  createAccountDecider,
  type AccountCommand,
  type AccountState,
} from '../../src/domain/account';
import {
  createInventoryDecider,
  inventoryDecider,
  type InventoryCommand,
} from '../../src/domain/inventory';
import { orderDecider, type OrderCommand } from '../../src/domain/order';
import { customerSubject, loadAggregate } from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * The command handler against a real Postgres. Two handlers on one database stand for two
 * processes (an API and a worker, or two workers): each remembers the streams it touched,
 * and neither may ever answer from a memory the other made stale.
 */
describe('command handler', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('command_handler');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const now = () => new Date('2026-01-01T00:00:00Z');
  const debit = (accountId: string, amount: number, reference: string) => ({
    type: 'DebitAccount' as const,
    data: { accountId, amount, reference },
    metadata: { now: now().toISOString() },
  });
  const deposit = (handler: CommandHandler, accountId: string, amount: number, id: string) =>
    new DirectCommands(handler, now).deposit(
      { accountId, amount, reference: id },
      { commandId: id },
    );
  const open = (handler: CommandHandler, accountId: string, initialDeposit = 0) =>
    new DirectCommands(handler, now).openAccount(
      { accountId, ownerId: `owner-${accountId}`, initialDeposit },
      { commandId: `open/${accountId}` },
    );
  const balanceOf = (state: unknown) => {
    const account = state as AccountState;
    return 'balance' in account ? account.balance : undefined;
  };
  const balance = async (accountId: string) =>
    balanceOf((await loadAggregate(db.eventStore, `account-${accountId}`, accountDecider)).state);
  const eventTypes = async (accountId: string) =>
    (await db.eventStore.readStream(`account-${accountId}`)).map((event) => event.type);

  /** Counts the round trips a call makes on the test pool. */
  async function roundTrips(call: () => Promise<unknown>): Promise<number> {
    const spy = jest.spyOn(db.pool, 'query');
    try {
      await call();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  it('snapshots at SNAPSHOT_EVERY, and loads from the snapshot what the memory would say', async () => {
    const handler = new CommandHandler(db.eventStore, { snapshotEvery: 3 });
    await open(handler, 'snap', 10); // versions 1-2
    for (let i = 1; i <= 5; i++) await deposit(handler, 'snap', i, `snap-${i}`); // 3-7
    expect((await db.eventStore.readSnapshot('account-snap'))?.version).toBe(6);
    const loaded = await loadAggregate(db.eventStore, 'account-snap', accountDecider);
    expect(loaded).toMatchObject({ snapshotVersion: 6, version: 7 });
    expect(balanceOf(loaded.state)).toBe(25);
    // The next command decides on the memory; its result agrees with the load.
    const next = await handler.handle(accountDecider, 'snap', debit('snap', 25, 'snap-d'), {
      commandId: 'snap-d',
    });
    expect(balanceOf(next.state)).toBe(0);
  });

  it('a second command on a stream it just wrote appends without loading', async () => {
    const handler = new CommandHandler(db.eventStore);
    await open(handler, 'warm', 1_000);
    expect(await roundTrips(() => deposit(handler, 'warm', 10, 'warm-1'))).toBe(1);

    const forgetful = new CommandHandler(db.eventStore, { aggregateCacheSize: 0 });
    expect(await roundTrips(() => deposit(forgetful, 'warm', 10, 'warm-2'))).toBe(2);
    expect(await roundTrips(() => deposit(forgetful, 'warm', 10, 'warm-3'))).toBe(2);
  });

  it('another process wrote in between: the stale append conflicts, and the command is decided again on fresh state', async () => {
    const api = new CommandHandler(db.eventStore);
    const worker = new CommandHandler(db.eventStore);
    await open(worker, 'shared', 100);
    await deposit(worker, 'shared', 0 + 1, 'shared-warm'); // the worker remembers 101
    await deposit(api, 'shared', 50, 'shared-api'); // now 151, unknown to the worker

    const result = await worker.handle(accountDecider, 'shared', debit('shared', 20, 'shared-d1'), {
      commandId: 'shared-d1',
    });
    expect(balanceOf(result.state)).toBe(131);
    const events = await db.eventStore.readStream('account-shared');
    expect(events.at(-1)).toMatchObject({ type: 'AccountDebited', data: { balanceAfter: 131 } });
    expect(events.map((event) => event.version)).toEqual([1, 2, 3, 4, 5]);
  });

  it('never rejects on a stale memory: a rejection is confirmed on fresh state first', async () => {
    const api = new CommandHandler(db.eventStore);
    const worker = new CommandHandler(db.eventStore);
    await open(worker, 'topped-up', 100); // the worker remembers a balance of 100
    await deposit(api, 'topped-up', 100, 'top-up'); // 200 now

    // Decided on the worker's memory this is INSUFFICIENT_FUNDS; the truth says yes.
    const result = await worker.handle(
      accountDecider,
      'topped-up',
      debit('topped-up', 150, 'big-debit'),
      { commandId: 'big-debit' },
    );
    expect(balanceOf(result.state)).toBe(50);

    // A real rejection still comes through, and the memory did not hide it.
    await expect(
      worker.handle(accountDecider, 'topped-up', debit('topped-up', 51, 'too-much'), {
        commandId: 'too-much',
      }),
    ).rejects.toMatchObject({ name: 'DomainRejection', code: 'INSUFFICIENT_FUNDS' });
    expect(await eventTypes('topped-up')).toEqual([
      'AccountOpened',
      'FundsDeposited',
      'FundsDeposited',
      'AccountDebited',
    ]);
  });

  it('a retried command answers with what its first attempt wrote, in the same process or another', async () => {
    const first = new CommandHandler(db.eventStore);
    const second = new CommandHandler(db.eventStore);
    await open(first, 'retried', 500);
    await deposit(second, 'retried', 1, 'retried-warm'); // second remembers the stream

    const original = await first.handle(accountDecider, 'retried', debit('retried', 100, 'r1'), {
      commandId: 'retried/r1',
    });
    // Same process: it remembers the command, so it answers as a fresh load would.
    const again = await first.handle(accountDecider, 'retried', debit('retried', 100, 'r1'), {
      commandId: 'retried/r1',
    });
    // Another process whose memory predates the first attempt.
    const elsewhere = await second.handle(accountDecider, 'retried', debit('retried', 100, 'r1'), {
      commandId: 'retried/r1',
    });
    for (const retry of [again, elsewhere]) {
      expect(retry).toMatchObject({ alreadyApplied: true, lastPosition: original.lastPosition });
    }
    expect((await eventTypes('retried')).filter((type) => type === 'AccountDebited')).toHaveLength(
      1,
    );
  });

  it('concurrent writers in two processes: every append lands once, in version order, and the balance adds up', async () => {
    const handlers = [new CommandHandler(db.eventStore), new CommandHandler(db.eventStore)];
    await open(handlers[0]!, 'contended', 0);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        deposit(handlers[i % 2]!, 'contended', i + 1, `contended-${i}`),
      ),
    );
    const events = await db.eventStore.readStream('account-contended');
    expect(events).toHaveLength(41);
    expect(events.map((event) => event.version)).toEqual(
      Array.from({ length: 41 }, (_, i) => i + 1),
    );
    const expected = (40 * 41) / 2;
    expect(events.at(-1)?.data).toMatchObject({ balanceAfter: expected });
    for (const handler of handlers) {
      const result = await handler
        .handle(accountDecider, 'contended', debit('contended', expected, 'drain'), {
          commandId: `drain/${handlers.indexOf(handler)}`,
        })
        .catch((error: unknown) => error);
      // Exactly one drains the account; the other is refused on fresh state.
      if (result instanceof DomainRejection) expect(result.code).toBe('INSUFFICIENT_FUNDS');
    }
    expect(
      (await eventTypes('contended')).filter((type) => type === 'AccountDebited'),
    ).toHaveLength(1);
    expect(await balance('contended')).toBe(0);
  });

  it('a retry whose reference left the account’s window, older than the snapshot, neither applies twice nor is refused', async () => {
    const decider = createAccountDecider({ referenceWindow: 2 });
    // Every append snapshots, so a fresh load has no tail in which to find the command.
    const handler = new CommandHandler(db.eventStore, { snapshotEvery: 1 });
    const run = (command: Omit<AccountCommand, 'metadata'>, commandId: string) =>
      handler.handle(
        decider,
        'late',
        { ...command, metadata: { now: now().toISOString() } } as AccountCommand,
        { commandId },
      );
    const move = (type: 'DepositFunds' | 'DebitAccount', amount: number, reference: string) =>
      ({ type, data: { accountId: 'late', amount, reference } }) as const;
    await run(
      { type: 'OpenAccount', data: { accountId: 'late', ownerId: 'o', initialDeposit: 100 } },
      'open/late',
    );
    const original = await run(move('DebitAccount', 100, 'late-pay'), 'late/pay');
    await run(move('DepositFunds', 1, 'late-x1'), 'late/x1');
    await run(move('DepositFunds', 1, 'late-x2'), 'late/x2'); // late-pay has left the window

    // Decided again on fresh state the retry is INSUFFICIENT_FUNDS: it already happened.
    const retried = await run(move('DebitAccount', 100, 'late-pay'), 'late/pay');
    expect(retried).toMatchObject({ alreadyApplied: true, lastPosition: original.lastPosition });
    // With money for it again, it still applies only once.
    await run(move('DepositFunds', 500, 'late-x3'), 'late/x3');
    const again = await run(move('DebitAccount', 100, 'late-pay'), 'late/pay');
    expect(again).toMatchObject({ alreadyApplied: true });
    expect((await eventTypes('late')).filter((type) => type === 'AccountDebited')).toHaveLength(1);
    expect(await balance('late')).toBe(502);
  });

  it('a late retry of a release or commit whose reservation left the SKU’s window applies nothing twice', async () => {
    const decider = createInventoryDecider({ reservationWindow: 2 });
    // Every append snapshots, so a fresh load has no tail in which to find the command.
    const handler = new CommandHandler(db.eventStore, { snapshotEvery: 1 });
    const sku = 'late-sku';
    const run = (command: Omit<InventoryCommand, 'metadata'>, commandId: string) =>
      handler.handle(
        decider,
        sku,
        { ...command, metadata: { now: now().toISOString() } } as InventoryCommand,
        { commandId },
      );
    const step = (type: InventoryCommand['type'], orderId: string, quantity?: number) =>
      ({ type, data: { sku, orderId, ...(quantity !== undefined && { quantity }) } }) as Omit<
        InventoryCommand,
        'metadata'
      >;
    await run({ type: 'RestockItem', data: { sku, quantity: 100, reference: 'po-1' } }, 'po-1');
    await run(step('ReserveStock', 'o-rel', 5), 'order-o-rel/reserve');
    const released = await run(step('ReleaseReservation', 'o-rel'), 'order-o-rel/release');
    await run(step('ReserveStock', 'o-com', 7), 'order-o-com/reserve');
    const committed = await run(step('CommitReservation', 'o-com'), 'order-o-com/commit');
    for (const orderId of ['x1', 'x2']) {
      await run(step('ReserveStock', orderId, 1), `order-${orderId}/reserve`);
      await run(step('CommitReservation', orderId), `order-${orderId}/commit`);
    }
    await run(step('ReserveStock', 'open', 2), 'order-open/reserve'); // open: kept
    const state = (await loadAggregate(db.eventStore, `inventory-${sku}`, decider)).state;
    expect(Object.keys(state.reservations).sort()).toEqual(['open', 'x1', 'x2']);
    expect(state.forgottenReservations).toBe(2);

    // The release decided again on fresh state is a zero-quantity tombstone, with the
    // original release's event id: the append ignores it.
    const releaseAgain = await run(step('ReleaseReservation', 'o-rel'), 'order-o-rel/release');
    expect(releaseAgain).toMatchObject({ lastPosition: released.lastPosition });
    // The commit decided again is RESERVATION_NOT_FOUND: it already happened.
    const commitAgain = await run(step('CommitReservation', 'o-com'), 'order-o-com/commit');
    expect(commitAgain).toMatchObject({
      alreadyApplied: true,
      lastPosition: committed.lastPosition,
    });
    // Nor does a late retry of either reserve take stock again.
    await run(step('ReserveStock', 'o-rel', 5), 'order-o-rel/reserve');
    await run(step('ReserveStock', 'o-com', 7), 'order-o-com/reserve');

    const events = await db.eventStore.readStream(`inventory-${sku}`);
    const count = (type: string, orderId: string) =>
      events.filter((e) => e.type === type && (e.data as { orderId?: string }).orderId === orderId)
        .length;
    expect(count('ReservationReleased', 'o-rel')).toBe(1);
    expect(count('ReservationCommitted', 'o-com')).toBe(1);
    expect(count('StockReserved', 'o-rel')).toBe(1);
    expect(count('StockReserved', 'o-com')).toBe(1);
    const after = (await loadAggregate(db.eventStore, `inventory-${sku}`, decider)).state;
    expect(after).toMatchObject({
      received: 100,
      available: 100 - 7 - 2 - 2,
      reserved: 2,
      committed: 9,
    });
  });

  it('ignores an inventory snapshot of the old state schema (every reservation ever)', async () => {
    const handler = new CommandHandler(db.eventStore, { snapshotEvery: 1 });
    const run = (command: Omit<InventoryCommand, 'metadata'>, commandId: string) =>
      handler.handle(
        inventoryDecider,
        'legacy-sku',
        { ...command, metadata: { now: now().toISOString() } } as InventoryCommand,
        { commandId },
      );
    await run(
      { type: 'RestockItem', data: { sku: 'legacy-sku', quantity: 3, reference: 'p' } },
      'p',
    );
    await db.eventStore.writeSnapshot({
      streamId: 'inventory-legacy-sku',
      streamType: 'inventory',
      version: 1,
      stateSchemaVersion: 1,
      state: {
        received: 999,
        available: 999,
        reserved: 0,
        committed: 0,
        reservations: {},
        restockReferences: ['p'],
      },
    });
    const loaded = await loadAggregate(db.eventStore, 'inventory-legacy-sku', inventoryDecider);
    expect(loaded.state).toMatchObject({ received: 3, finishedReservations: [] });
  });

  it('ignores an account snapshot of the old state schema and snapshots again on the first append', async () => {
    const forgetful = new CommandHandler(db.eventStore, { aggregateCacheSize: 0 });
    await open(forgetful, 'legacy', 10); // versions 1-2
    for (let i = 1; i <= 3; i++) await deposit(forgetful, 'legacy', 1, `legacy-${i}`); // 3-5
    // What the previous code snapshotted: schema 1, every reference ever (and a wrong
    // balance, to show it is not used).
    await db.eventStore.writeSnapshot({
      streamId: 'account-legacy',
      streamType: 'account',
      version: 5,
      stateSchemaVersion: 1,
      state: { status: 'open', accountId: 'legacy', balance: 999, appliedReferences: [] },
    });

    const handler = new CommandHandler(db.eventStore, { snapshotEvery: 4 });
    await deposit(handler, 'legacy', 1, 'legacy-4'); // version 6: far past the last usable snapshot
    const snapshot = await db.eventStore.readSnapshot('account-legacy');
    const fresh = await loadAggregate(db.eventStore, 'account-legacy', {
      ...accountDecider,
      snapshot: undefined,
    });
    expect(snapshot).toMatchObject({ version: 6, stateSchemaVersion: 3, state: fresh.state });
    expect(balanceOf(fresh.state)).toBe(14);
    expect(handler.remembered('account-legacy')).toEqual({ state: fresh.state, version: 6 });
  });

  it('ignores an account snapshot of state schema 2 (statuses spelled open/frozen)', async () => {
    const forgetful = new CommandHandler(db.eventStore, { aggregateCacheSize: 0 });
    await open(forgetful, 'lower', 10); // versions 1-2
    await db.eventStore.writeSnapshot({
      streamId: 'account-lower',
      streamType: 'account',
      version: 2,
      stateSchemaVersion: 2,
      state: {
        status: 'open',
        accountId: 'lower',
        ownerId: 'owner-lower',
        openedAt: now().toISOString(),
        balance: 999,
        recentReferences: [],
        forgottenReferences: 0,
      },
    });
    const loaded = await loadAggregate(db.eventStore, 'account-lower', accountDecider);
    expect(loaded.state).toMatchObject({ status: 'OPEN', balance: 10 });
  });

  describe('personal data', () => {
    // Orders take no snapshots in production; this one does, to show what one would hold.
    const snapshottingOrders = { ...orderDecider, snapshot: { every: 1, stateSchemaVersion: 1 } };
    const orderCommand = (command: Omit<OrderCommand, 'metadata'>) =>
      ({ ...command, metadata: { now: now().toISOString() } }) as OrderCommand;
    const placeOrder = (orderId: string, customerId: string) =>
      orderCommand({
        type: 'PlaceOrder',
        data: {
          orderId,
          customerId,
          paymentAccountId: 'pay',
          items: [{ sku: 'sku', quantity: 1, unitPrice: 100 }],
          shippingAddress: {
            name: 'Ada Lovelace',
            line1: '1 Analytical St',
            city: 'London',
            postalCode: 'N1',
            country: 'GB',
          },
        },
      });
    const freshSealedLoad = async (orderId: string) =>
      loadAggregate(db.eventStore, `order-${orderId}`, orderDecider, { sealedPersonalData: true });
    // Whole JSON strings: a bare "N1" turns up in base64 ciphertext by chance.
    const plaintext = /Lovelace|Analytical|London|"N1"/;

    it('remembers and snapshots what a fresh sealed load builds: no plaintext personal field', async () => {
      const handler = new CommandHandler(db.eventStore, { snapshotEvery: 1 });
      const placed = await handler.handle(
        snapshottingOrders,
        'mem-1',
        placeOrder('mem-1', 'c-mem'),
        { commandId: 'place/mem-1' },
      );
      const fresh = await freshSealedLoad('mem-1');
      const remembered = handler.remembered('order-mem-1');
      const snapshot = await db.eventStore.readSnapshot('order-mem-1');
      expect(remembered).toEqual({ state: fresh.state, version: 1 });
      expect(snapshot).toMatchObject({ version: 1, state: fresh.state });
      expect(placed.state).toEqual(fresh.state);
      for (const held of [remembered, snapshot, placed.state])
        expect(JSON.stringify(held)).not.toMatch(plaintext);
      // Readers still get the address from the store.
      const [event] = await db.eventStore.readStream('order-mem-1');
      expect(JSON.stringify(event?.data)).toMatch(/Ada Lovelace/);
    });

    it('after erasure the memory holds nothing readable, and the next command decides on it correctly', async () => {
      const handler = new CommandHandler(db.eventStore, { snapshotEvery: 1 });
      await handler.handle(snapshottingOrders, 'mem-2', placeOrder('mem-2', 'c-mem-2'), {
        commandId: 'place/mem-2',
      });
      await db.eventStore.erasePersonalData(customerSubject('c-mem-2'));
      expect(JSON.stringify(handler.remembered('order-mem-2'))).not.toMatch(plaintext);

      // Decided on the memory: one append and one snapshot, no load.
      const reserve = orderCommand({ type: 'MarkStockReserved', data: { orderId: 'mem-2' } });
      let reserved: Awaited<ReturnType<typeof handler.handle>> | undefined;
      const trips = await roundTrips(async () => {
        reserved = await handler.handle(snapshottingOrders, 'mem-2', reserve, {
          commandId: 'reserve/mem-2',
        });
      });
      expect(trips).toBe(2);
      const fresh = await freshSealedLoad('mem-2');
      expect(fresh.state.status).toBe('STOCK_RESERVED');
      expect(reserved).toMatchObject({ version: 2, state: fresh.state });
      expect(handler.remembered('order-mem-2')).toEqual({ state: fresh.state, version: 2 });
      expect(JSON.stringify(await db.eventStore.readSnapshot('order-mem-2'))).not.toMatch(
        plaintext,
      );
    });
  });
});
