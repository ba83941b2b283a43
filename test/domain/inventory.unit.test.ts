import fc from 'fast-check';
import { isRejection } from '../../src/domain/decider';
import {
  type InventoryCommand,
  type InventoryEvent,
  type InventoryItemState,
  inventoryDecider,
  inventoryEvolver,
} from '../../src/domain/inventory';
import { DeciderSpecification } from '../support/deciderSpec';

const metadata = { now: '2025-01-02T03:04:05.000Z' };
const sku = 'SKU-1';
const spec = DeciderSpecification.for(inventoryDecider);

const restock = (quantity: number, reference = 'po-1'): InventoryCommand => ({
  type: 'RestockItem',
  data: { sku, quantity, reference },
  metadata,
});
const reserve = (orderId: string, quantity: number): InventoryCommand => ({
  type: 'ReserveStock',
  data: { sku, orderId, quantity },
  metadata,
});
const release = (orderId: string): InventoryCommand => ({
  type: 'ReleaseReservation',
  data: { sku, orderId },
  metadata,
});
const commit = (orderId: string): InventoryCommand => ({
  type: 'CommitReservation',
  data: { sku, orderId },
  metadata,
});

const restocked = (quantity: number, reference = 'po-1'): InventoryEvent => ({
  type: 'StockRestocked',
  data: { sku, quantity, reference },
});
const reserved = (orderId: string, quantity: number): InventoryEvent => ({
  type: 'StockReserved',
  data: { sku, orderId, quantity },
});
const released = (orderId: string, quantity: number): InventoryEvent => ({
  type: 'ReservationReleased',
  data: { sku, orderId, quantity },
});
const committed = (orderId: string, quantity: number): InventoryEvent => ({
  type: 'ReservationCommitted',
  data: { sku, orderId, quantity },
});

describe('InventoryItem decider', () => {
  it('uses one stream per SKU and snapshots every 100 events', () => {
    expect(inventoryDecider.streamType).toBe('inventory');
    expect(inventoryDecider.streamId(sku)).toBe('inventory-SKU-1');
    expect(inventoryDecider.snapshot).toEqual({ every: 100, stateSchemaVersion: 2 });
  });

  describe('RestockItem', () => {
    it('adds to received and available', () => {
      const state = spec.when(restock(10)).then([restocked(10)]);
      expect(state).toMatchObject({ received: 10, available: 10, reserved: 0, committed: 0 });
    });
    it('is idempotent per reference', () => {
      spec
        .given([restocked(10)])
        .when(restock(10))
        .thenNothing();
      spec
        .given([restocked(10)])
        .when(restock(5, 'po-2'))
        .then([restocked(5, 'po-2')]);
    });
    it.each([0, -1, 2.5])('rejects quantity %p', (quantity) => {
      spec.when(restock(quantity)).thenRejects('INVALID_QUANTITY');
    });
  });

  describe('ReserveStock', () => {
    it('moves available to reserved', () => {
      const state = spec
        .given([restocked(10)])
        .when(reserve('o-1', 4))
        .then([reserved('o-1', 4)]);
      expect(state).toMatchObject({ received: 10, available: 6, reserved: 4, committed: 0 });
      expect(state.reservations['o-1']).toEqual({ quantity: 4, status: 'reserved' });
    });
    it('may reserve everything available', () => {
      spec
        .given([restocked(10)])
        .when(reserve('o-1', 10))
        .then([reserved('o-1', 10)]);
    });
    it('rejects more than available, with details', () => {
      spec
        .given([restocked(10), reserved('o-1', 7)])
        .when(reserve('o-2', 4))
        .thenRejects('INSUFFICIENT_STOCK', { requested: 4, available: 3 });
      spec.when(reserve('o-1', 1)).thenRejects('INSUFFICIENT_STOCK', { available: 0 });
    });
    it.each([0, -3, 1.5])('rejects quantity %p', (quantity) => {
      spec
        .given([restocked(10)])
        .when(reserve('o-1', quantity))
        .thenRejects('INVALID_QUANTITY');
    });
    it('keeps one reservation per order, whatever became of it', () => {
      spec
        .given([restocked(10), reserved('o-1', 4)])
        .when(reserve('o-1', 4))
        .thenNothing();
      spec
        .given([restocked(10), reserved('o-1', 4), released('o-1', 4)])
        .when(reserve('o-1', 4))
        .thenNothing();
      spec
        .given([restocked(10), reserved('o-1', 4), committed('o-1', 4)])
        .when(reserve('o-1', 4))
        .thenNothing();
    });
    it('does not confuse an order id with prototype properties', () => {
      spec
        .given([restocked(10)])
        .when(reserve('constructor', 2))
        .then([reserved('constructor', 2)]);
      spec
        .given([restocked(10)])
        .when(release('toString'))
        .then([released('toString', 0)]);
      spec
        .given([restocked(10)])
        .when(commit('__proto__'))
        .thenRejects('RESERVATION_NOT_FOUND');
    });
  });

  describe('ReleaseReservation', () => {
    it('returns the reserved quantity to available', () => {
      const state = spec
        .given([restocked(10), reserved('o-1', 4)])
        .when(release('o-1'))
        .then([released('o-1', 4)]);
      expect(state).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    });
    it('records a zero-quantity tombstone when the reservation never happened', () => {
      spec
        .given([restocked(10)])
        .when(release('o-1'))
        .then([released('o-1', 0)]);
      spec.when(release('o-1')).then([released('o-1', 0)]);
    });
    it('makes a reserve that arrives after its compensation a no-op (late zombie)', () => {
      spec
        .given([restocked(10), released('o-1', 0)])
        .when(reserve('o-1', 4))
        .thenNothing();
    });
    it('is harmless when already released', () => {
      spec
        .given([restocked(10), reserved('o-1', 4), released('o-1', 4)])
        .when(release('o-1'))
        .thenNothing();
      spec
        .given([restocked(10), released('o-1', 0)])
        .when(release('o-1'))
        .thenNothing();
    });
    it('rejects releasing a committed reservation', () => {
      spec
        .given([restocked(10), reserved('o-1', 4), committed('o-1', 4)])
        .when(release('o-1'))
        .thenRejects('RESERVATION_COMMITTED');
    });
  });

  describe('CommitReservation', () => {
    it('moves reserved to committed', () => {
      const state = spec
        .given([restocked(10), reserved('o-1', 4)])
        .when(commit('o-1'))
        .then([committed('o-1', 4)]);
      expect(state).toMatchObject({ received: 10, available: 6, reserved: 0, committed: 4 });
    });
    it('is idempotent', () => {
      spec
        .given([restocked(10), reserved('o-1', 4), committed('o-1', 4)])
        .when(commit('o-1'))
        .thenNothing();
    });
    it('rejects a commit without reservation', () => {
      spec
        .given([restocked(10)])
        .when(commit('o-1'))
        .thenRejects('RESERVATION_NOT_FOUND');
    });
    it('rejects a commit after release', () => {
      spec
        .given([restocked(10), reserved('o-1', 4), released('o-1', 4)])
        .when(commit('o-1'))
        .thenRejects('RESERVATION_RELEASED');
    });
  });

  it('keeps state JSON-serializable (snapshots)', () => {
    const state = [restocked(10), reserved('o-1', 4), committed('o-1', 4)].reduce(
      inventoryDecider.evolve,
      inventoryDecider.initialState(),
    );
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it('property: available + reserved + committed = received, none negative', () => {
    const orderId = fc.constantFrom('o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6');
    const quantity = fc.oneof(fc.integer({ min: -2, max: 25 }), fc.double());
    const commandArb: fc.Arbitrary<InventoryCommand> = fc.oneof(
      fc
        .tuple(quantity, fc.constantFrom('po-1', 'po-2', 'po-3', 'po-4'))
        .map(([q, reference]) => restock(q, reference)),
      fc.tuple(orderId, quantity).map(([id, q]) => reserve(id, q)),
      orderId.map(release),
      orderId.map(commit),
    );
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 80 }), (commands) => {
        let state: InventoryItemState = inventoryDecider.initialState();
        for (const command of commands) {
          const decision = inventoryDecider.decide(command, state);
          if (isRejection(decision)) continue;
          state = decision.reduce(inventoryDecider.evolve, state);
          const { received, available, reserved: r, committed: c } = state;
          expect(available + r + c).toBe(received);
          for (const n of [received, available, r, c]) {
            expect(n).toBeGreaterThanOrEqual(0);
            expect(Number.isInteger(n)).toBe(true);
          }
          const open = Object.values(state.reservations).filter((x) => x.status === 'reserved');
          expect(open.reduce((sum, x) => sum + x.quantity, 0)).toBe(r);
        }
      }),
    );
  });
});

describe('bounded reservations', () => {
  const reserved = (orderId: string, quantity: number): InventoryEvent => ({
    type: 'StockReserved',
    data: { sku, orderId, quantity },
  });
  const finished = (
    type: 'ReservationReleased' | 'ReservationCommitted',
    orderId: string,
    quantity: number,
  ): InventoryEvent => ({ type, data: { sku, orderId, quantity } });

  it('keeps open reservations forever and only the last `window` finished ones', () => {
    const evolve = inventoryEvolver(3);
    let state = inventoryDecider.initialState();
    state = evolve(state, {
      type: 'StockRestocked',
      data: { sku, quantity: 1000, reference: 'p' },
    });
    state = evolve(state, reserved('open-early', 5)); // stays open throughout
    for (let i = 0; i < 50; i++) {
      state = evolve(state, reserved(`o-${i}`, 1));
      state = evolve(
        state,
        finished(i % 2 ? 'ReservationCommitted' : 'ReservationReleased', `o-${i}`, 1),
      );
    }
    state = evolve(state, reserved('open-late', 2));
    expect(Object.keys(state.reservations).sort()).toEqual(
      ['o-47', 'o-48', 'o-49', 'open-early', 'open-late'].sort(),
    );
    expect(state.reservations['open-early']).toEqual({ quantity: 5, status: 'reserved' });
    expect(state.finishedReservations).toEqual(['o-47', 'o-48', 'o-49']);
    expect(state.forgottenReservations).toBe(47);
    // The figures are unaffected by forgetting.
    expect(state).toMatchObject({ received: 1000, reserved: 7, committed: 25, available: 968 });
    // The open reservation still commits with its quantity, the forgotten ones are refused.
    expect(inventoryDecider.decide(commit('open-early'), state)).toEqual([
      { type: 'ReservationCommitted', data: { sku, orderId: 'open-early', quantity: 5 } },
    ]);
    expect(isRejection(inventoryDecider.decide(commit('o-1'), state))).toBe(true);
    // Within the window a tombstone still stops a late reserve.
    state = evolve(state, finished('ReservationReleased', 'never-reserved', 0));
    expect(inventoryDecider.decide(reserve('never-reserved', 1), state)).toEqual([]);
  });

  it('state size stays bounded however many reservations finish', () => {
    const evolve = inventoryEvolver(100);
    let state = inventoryDecider.initialState();
    state = evolve(state, {
      type: 'StockRestocked',
      data: { sku, quantity: 20_000, reference: 'p' },
    });
    for (let i = 0; i < 10_000; i++) {
      state = evolve(state, reserved(`order-${i}`, 1));
      state = evolve(state, finished('ReservationCommitted', `order-${i}`, 1));
    }
    expect(Object.keys(state.reservations)).toHaveLength(100);
    expect(state.finishedReservations).toHaveLength(100);
    expect(state.forgottenReservations).toBe(9_900);
    expect(state).toMatchObject({ committed: 10_000, available: 10_000, reserved: 0 });
  });
});
