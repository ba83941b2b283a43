import { type DomainEvent, ownEntry, schemaVersions } from '../decider';

export const INVENTORY_STREAM_TYPE = 'inventory';

/** The SKU's stream: `inventory-<sku>`. */
export const inventoryStreamId = (sku: string): string => `${INVENTORY_STREAM_TYPE}-${sku}`;

// Events: past tense.

export type StockRestocked = DomainEvent<
  'StockRestocked',
  { sku: string; quantity: number; reference: string }
>;
export type StockReserved = DomainEvent<
  'StockReserved',
  { sku: string; orderId: string; quantity: number }
>;
export type ReservationReleased = DomainEvent<
  'ReservationReleased',
  { sku: string; orderId: string; quantity: number }
>;
export type ReservationCommitted = DomainEvent<
  'ReservationCommitted',
  { sku: string; orderId: string; quantity: number }
>;

export type InventoryEvent =
  StockRestocked | StockReserved | ReservationReleased | ReservationCommitted;

export const INVENTORY_EVENT_TYPES = [
  'StockRestocked',
  'StockReserved',
  'ReservationReleased',
  'ReservationCommitted',
] as const satisfies readonly InventoryEvent['type'][];

export const INVENTORY_EVENT_SCHEMA_VERSIONS =
  schemaVersions<InventoryEvent['type']>(INVENTORY_EVENT_TYPES);

// State. Invariant: available + reserved + committed = received, none negative.

export const RESERVATION_STATUSES = ['reserved', 'released', 'committed'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

export interface Reservation {
  quantity: number;
  status: ReservationStatus;
}

export interface InventoryItemState {
  received: number;
  available: number;
  reserved: number;
  committed: number;
  /**
   * Reservations by order: every OPEN one (status reserved: it holds stock), forever, and
   * the most recently finished ones (released or committed), at most the decider's window.
   *
   * A bounded window, not one entry per order ever (a busy SKU's state, every command's copy
   * and every snapshot would grow without end). A retried command needs no window: a saga
   * step's command id is fixed (`<workflowId>/<step>`), its events' ids derive from it, so
   * the append ignores a retry that decides the same events again (a forgotten order's
   * release writes the tombstone with the original release's event id, a reserve the
   * original reservation's), and a retry refused now (a forgotten commit is "not found") is
   * recognised by the command handler by those event ids. The window answers the question
   * one command asks about another: did this order's release (a tombstone) come before a
   * reserve attempt still running; that reserve arrives within its activity timeout, long
   * before the SKU finishes `window` other reservations.
   */
  reservations: Record<string, Reservation>;
  /** Orders whose reservation finished, oldest first, at most the window (keys of reservations). */
  finishedReservations: string[];
  /** Finished reservations that left the window (the events still hold them). */
  forgottenReservations: number;
  /** References of restocks already applied. */
  restockReferences: string[];
}

export const initialInventoryItemState = (): InventoryItemState => ({
  received: 0,
  available: 0,
  reserved: 0,
  committed: 0,
  reservations: {},
  finishedReservations: [],
  forgottenReservations: 0,
  restockReferences: [],
});

/**
 * Finished reservations a SKU remembers unless told otherwise: 10,000, far more than a SKU
 * finishes while one reserve attempt runs. Changing it changes what a load builds: bump the
 * inventory's stateSchemaVersion with it.
 */
export const DEFAULT_RESERVATION_WINDOW = 10_000;

export const reservationOf = (
  state: InventoryItemState,
  orderId: string,
): Reservation | undefined => ownEntry(state.reservations, orderId);

/** The inventory fold, remembering open reservations and the last `window` finished ones. */
export function inventoryEvolver(window: number) {
  if (!Number.isSafeInteger(window) || window < 1)
    throw new Error(`reservation window must be a positive integer, got ${window}`);

  /** The state with `orderId`'s reservation finished, the oldest finished ones dropped. */
  const finish = (
    state: InventoryItemState,
    orderId: string,
    reservation: Reservation,
  ): Pick<
    InventoryItemState,
    'reservations' | 'finishedReservations' | 'forgottenReservations'
  > => {
    const before = ownEntry(state.reservations, orderId);
    const reservations = { ...state.reservations, [orderId]: reservation };
    // Finished twice (not in practice: a finished reservation takes no event): moves to the end.
    const finished =
      before && before.status !== 'reserved'
        ? state.finishedReservations.filter((id) => id !== orderId)
        : state.finishedReservations.slice();
    finished.push(orderId);
    const dropped = Math.max(0, finished.length - window);
    for (const id of finished.slice(0, dropped)) delete reservations[id];
    return {
      reservations,
      finishedReservations: dropped > 0 ? finished.slice(dropped) : finished,
      forgottenReservations: state.forgottenReservations + dropped,
    };
  };

  return function evolveInventoryItem(
    state: InventoryItemState,
    event: InventoryEvent,
  ): InventoryItemState {
    const { type, data } = event;
    switch (type) {
      case 'StockRestocked':
        return {
          ...state,
          received: state.received + data.quantity,
          available: state.available + data.quantity,
          restockReferences: [...state.restockReferences, data.reference],
        };
      case 'StockReserved':
        return {
          ...state,
          available: state.available - data.quantity,
          reserved: state.reserved + data.quantity,
          reservations: {
            ...state.reservations,
            [data.orderId]: { quantity: data.quantity, status: 'reserved' },
          },
        };
      case 'ReservationReleased':
        return {
          ...state,
          available: state.available + data.quantity,
          reserved: state.reserved - data.quantity,
          ...finish(state, data.orderId, { quantity: data.quantity, status: 'released' }),
        };
      case 'ReservationCommitted':
        return {
          ...state,
          reserved: state.reserved - data.quantity,
          committed: state.committed + data.quantity,
          ...finish(state, data.orderId, { quantity: data.quantity, status: 'committed' }),
        };
      default: {
        const _unknown: never = type;
        return state;
      }
    }
  };
}

export const evolveInventoryItem = inventoryEvolver(DEFAULT_RESERVATION_WINDOW);
