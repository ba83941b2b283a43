import type { SagaActivities } from '../../activities';
import {
  checkAccount,
  checkInventory,
  eventsOf,
  failAfterCommit,
  FaultLog,
  withFaults,
  zombie,
  ZombieControl,
} from '../support/faults';
import { MERCHANT, SagaHarness } from '../support/sagaHarness';

const PRICE = 1_000; // below the harness's approval threshold

/**
 * Every saga step is retried by Temporal, and a retry may run a step whose effect already
 * committed: a reply lost after the append, or an attempt that timed out and keeps running
 * (a zombie). The idempotency key (workflow id + step) must make each effect happen once.
 */
describe('idempotent saga steps: a reply lost after the commit', () => {
  const log = new FaultLog();
  const flakyOrder = (input: { orderId: string }) => input.orderId === 'lost-reply';
  const flakyMoney = (input: { reference: string }) =>
    input.reference.startsWith('order-lost-reply/') ||
    input.reference.startsWith('transfer-lost-reply/');
  const h = new SagaHarness('idem_lost_reply', {
    // Every step of these sagas commits, then reports a failure on its first attempt.
    wrapActivities: (real) =>
      withFaults(real, {
        reserveStock: (fn) => failAfterCommit('reserveStock', fn, { match: flakyOrder, log }),
        bookShipment: (fn) => failAfterCommit('bookShipment', fn, { match: flakyOrder, log }),
        applyOrderCommand: (fn) =>
          failAfterCommit('applyOrderCommand', fn, { match: flakyOrder, log }),
        debitAccount: (fn) => failAfterCommit('debitAccount', fn, { match: flakyMoney, log }),
        creditAccount: (fn) => failAfterCommit('creditAccount', fn, { match: flakyMoney, log }),
        dispatchShipment: (fn) =>
          failAfterCommit('dispatchShipment', fn, { match: flakyOrder, log }),
        commitStock: (fn) => failAfterCommit('commitStock', fn, { match: flakyOrder, log }),
        applyTransferCommand: (fn) =>
          failAfterCommit('applyTransferCommand', fn, {
            match: (input) => input.transferId === 'lost-reply',
            log,
          }),
      }),
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('order: each step retried after its commit still happens once, and the order completes', async () => {
    await h.openAccount('idem-cust', 10_000);
    await h.restock('idem-sku', 4);
    const merchantBefore = await h.balance(MERCHANT);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'lost-reply',
      customerId: 'c-idem',
      paymentAccountId: 'idem-cust',
      items: [{ sku: 'idem-sku', quantity: 3, unitPrice: PRICE }],
    });
    expect(await h.result(sagaId)).toEqual({
      outcome: 'COMPLETED',
      status: 'COMPLETED',
      reason: null,
    });

    // The faults really fired: every wrapped step lost its first reply.
    const failed = new Set(
      log.records.filter((r) => r.phase === 'failed-after-commit').map((r) => r.activity),
    );
    for (const activity of [
      'reserveStock',
      'bookShipment',
      'applyOrderCommand',
      'debitAccount',
      'creditAccount',
      'dispatchShipment',
      'commitStock',
    ])
      expect(failed).toContain(activity);

    expect(await h.eventTypes('order-lost-reply')).toEqual([
      'OrderPlaced',
      'OrderStockReserved',
      'OrderShipmentBooked',
      'OrderPaid',
      'OrderDispatched',
      'OrderCompleted',
    ]);
    const stock = await checkInventory(h.db.eventStore, 'idem-sku');
    expect(stock.events.map((e) => e.type)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
    expect(stock).toMatchObject({ received: 4, available: 1, reserved: 0, committed: 3 });
    expect(await h.eventTypes('shipment-lost-reply')).toEqual([
      'ShipmentBooked',
      'ShipmentDispatched',
    ]);

    const payments = await eventsOf(
      h.db.eventStore,
      'account-idem-cust',
      'AccountDebited',
      (d) => d.reference === 'order-lost-reply/payment',
    );
    expect(payments).toHaveLength(1);
    const customer = await checkAccount(h.db.eventStore, 'idem-cust');
    expect(customer.balance).toBe(10_000 - total);
    const revenue = await eventsOf(
      h.db.eventStore,
      `account-${MERCHANT}`,
      'AccountCredited',
      (d) => d.reference === 'order-lost-reply/revenue',
    );
    expect(revenue).toHaveLength(1);
    expect((await checkAccount(h.db.eventStore, MERCHANT)).balance).toBe(merchantBefore + total);
  });

  it('transfer: a debit and a credit retried after their commit move the money once', async () => {
    await h.openAccount('idem-from', 5_000);
    await h.openAccount('idem-to', 0);
    const { sagaId } = await h.startTransfer('lost-reply', 'idem-from', 'idem-to', 1_250);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    expect(log.of('debitAccount').some((r) => r.phase === 'failed-after-commit')).toBe(true);
    expect(log.of('applyTransferCommand').some((r) => r.phase === 'failed-after-commit')).toBe(
      true,
    );

    expect(
      await eventsOf(h.db.eventStore, 'account-idem-from', 'AccountDebited', () => true),
    ).toHaveLength(1);
    expect(
      await eventsOf(h.db.eventStore, 'account-idem-to', 'AccountCredited', () => true),
    ).toHaveLength(1);
    expect((await checkAccount(h.db.eventStore, 'idem-from')).balance).toBe(3_750);
    expect((await checkAccount(h.db.eventStore, 'idem-to')).balance).toBe(1_250);
    expect(await h.eventTypes('transfer-lost-reply')).toEqual([
      'TransferRequested',
      'TransferDebited',
      'TransferCredited',
      'TransferCompleted',
    ]);
  });
});

describe('idempotent saga steps: zombie attempts that time out and commit late', () => {
  const STALL_MS = 1_500; // past the 1s start-to-close below
  const controls = {
    lateReserve: new ZombieControl(),
    lateCharge: new ZombieControl(),
    earlyDebit: new ZombieControl(),
    exhaustedDebit: new ZombieControl(),
    exhaustedReserve: new ZombieControl(),
  };
  const log = new FaultLog();
  /** Opened by the tests once a saga has finished: the zombies of its last attempts wake. */
  const sagaFinished: Record<string, Promise<unknown>> = {};
  const finished = (id: string) => () => sagaFinished[id] ?? Promise.resolve();

  const wrap = (real: SagaActivities) =>
    withFaults(real, {
      reserveStock: (fn) => {
        // Retry first, zombie after: the zombie's late reservation must not reserve again.
        const late = zombie('reserveStock', fn, {
          match: (input) => input.orderId === 'zombie-late',
          control: controls.lateReserve,
          stallMs: STALL_MS,
          wakeAfter: () => controls.lateReserve.retrySucceeded.promise,
          log,
        });
        // Every attempt times out, the saga gives up and releases; the zombies land after that.
        const exhausted = zombie('reserveStock', late, {
          match: (input) => input.orderId === 'zombie-exhausted',
          control: controls.exhaustedReserve,
          stallMs: STALL_MS,
          attempts: [1, 2],
          wakeAfter: finished('order-zombie-exhausted'),
          log,
        });
        return exhausted;
      },
      debitAccount: (fn) => {
        // The pivot (charge) times out once; its zombie commits after the retry did.
        const lateCharge = zombie('debitAccount', fn, {
          match: (input) => input.reference === 'order-zombie-late/payment',
          control: controls.lateCharge,
          stallMs: STALL_MS,
          wakeAfter: () => controls.lateCharge.retrySucceeded.promise,
          log,
        });
        // Zombie first: it commits after its timeout, the retry runs only after that.
        const earlyDebit = zombie('debitAccount', lateCharge, {
          match: (input) => input.reference === 'transfer-zombie-early/debit',
          control: controls.earlyDebit,
          stallMs: STALL_MS,
          holdRetriesUntil: () => controls.earlyDebit.firstZombieDone.promise,
          log,
        });
        // Every debit attempt times out: the transfer fails and refunds; then the zombies land.
        return zombie('debitAccount', earlyDebit, {
          match: (input) => input.reference === 'transfer-zombie-exhausted/debit',
          control: controls.exhaustedDebit,
          stallMs: STALL_MS,
          attempts: [1, 2],
          wakeAfter: finished('transfer-zombie-exhausted'),
          log,
        });
      },
    });

  const h = new SagaHarness('idem_zombie', {
    wrapActivities: wrap,
    config: { ACTIVITY_START_TO_CLOSE: '1s', ACTIVITY_MAX_ATTEMPTS: '2' },
  });
  beforeAll(() => h.start());
  afterAll(() => h.stop());

  it('order: a reservation and a charge retried while their timed-out attempts still run take effect once', async () => {
    await h.openAccount('zombie-cust', 10_000);
    await h.restock('zombie-sku', 5);
    const { sagaId, total } = await h.placeOrder({
      orderId: 'zombie-late',
      customerId: 'c-zombie',
      paymentAccountId: 'zombie-cust',
      items: [{ sku: 'zombie-sku', quantity: 2, unitPrice: PRICE }],
    });
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const zombies = [
      ...(await controls.lateReserve.allZombiesDone()),
      ...(await controls.lateCharge.allZombiesDone()),
    ];
    expect(zombies).toHaveLength(2);
    // The late runs succeeded as no-ops (the step had already happened): no error, no effect.
    expect(zombies.map((z) => z.error)).toEqual([undefined, undefined]);
    expect(log.of('reserveStock').map((r) => r.phase)).toEqual([
      'effect-applied',
      'zombie-woke',
      'zombie-applied',
    ]);

    const stock = await checkInventory(h.db.eventStore, 'zombie-sku');
    expect(stock.events.map((e) => e.type)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
    expect(stock).toMatchObject({ received: 5, available: 3, reserved: 0, committed: 2 });
    expect(
      await eventsOf(h.db.eventStore, 'account-zombie-cust', 'AccountDebited', () => true),
    ).toHaveLength(1);
    expect((await checkAccount(h.db.eventStore, 'zombie-cust')).balance).toBe(10_000 - total);
  });

  it('transfer: a zombie debit that commits before its retry runs is not applied twice', async () => {
    await h.openAccount('zombie-from', 5_000);
    await h.openAccount('zombie-to', 0);
    const { sagaId } = await h.startTransfer('zombie-early', 'zombie-from', 'zombie-to', 2_000);
    expect((await h.result(sagaId)).outcome).toBe('COMPLETED');
    const zombies = await controls.earlyDebit.allZombiesDone();
    // The zombie debited (it came first); the retry found the debit done.
    expect(zombies.map((z) => [z.attempt, z.error])).toEqual([[1, undefined]]);
    expect(log.of('debitAccount').filter((r) => r.phase !== 'zombie-woke')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ attempt: 1, phase: 'zombie-applied' }),
        expect.objectContaining({ attempt: 2, phase: 'effect-applied' }),
      ]),
    );
    const debits = await eventsOf(h.db.eventStore, 'account-zombie-from', 'AccountDebited');
    expect(debits).toHaveLength(1);
    expect((await checkAccount(h.db.eventStore, 'zombie-from')).balance).toBe(3_000);
    expect((await checkAccount(h.db.eventStore, 'zombie-to')).balance).toBe(2_000);
  });

  it('transfer: debits that commit after the saga gave up on them and refunded take nothing', async () => {
    await h.openAccount('exhausted-from', 5_000);
    await h.openAccount('exhausted-to', 0);
    const { sagaId } = await h.startTransfer(
      'zombie-exhausted',
      'exhausted-from',
      'exhausted-to',
      1_500,
    );
    const resultPromise = h.result(sagaId);
    sagaFinished[sagaId] = resultPromise;
    const result = await resultPromise;
    expect(result.outcome).toBe('FAILED');
    expect(result.reason).toMatch(/^STEP_FAILED/);
    const zombies = await controls.exhaustedDebit.allZombiesDone();
    expect(zombies.map((z) => z.attempt)).toEqual([1, 2]);

    // Whatever the zombies did, the source keeps its money and nobody else got it.
    const from = await checkAccount(h.db.eventStore, 'exhausted-from');
    expect(from.balance).toBe(5_000);
    expect((await checkAccount(h.db.eventStore, 'exhausted-to')).balance).toBe(0);
  });

  it('order: reservations that commit after the saga released them hold no stock', async () => {
    await h.openAccount('exhausted-cust', 10_000);
    await h.restock('exhausted-sku', 5);
    const { sagaId } = await h.placeOrder({
      orderId: 'zombie-exhausted',
      customerId: 'c-exhausted',
      paymentAccountId: 'exhausted-cust',
      items: [{ sku: 'exhausted-sku', quantity: 2, unitPrice: PRICE }],
    });
    const resultPromise = h.result(sagaId);
    sagaFinished[sagaId] = resultPromise;
    const result = await resultPromise;
    expect(result.outcome).toBe('CANCELLED');
    expect(result.reason).toMatch(/^STEP_FAILED/);
    expect((await controls.exhaustedReserve.allZombiesDone()).map((z) => z.attempt)).toEqual([
      1, 2,
    ]);

    // The order was cancelled: all its stock must be available again.
    const stock = await checkInventory(h.db.eventStore, 'exhausted-sku');
    expect(stock).toMatchObject({ received: 5, available: 5, reserved: 0, committed: 0 });
    expect((await checkAccount(h.db.eventStore, 'exhausted-cust')).balance).toBe(10_000);
  });
});
