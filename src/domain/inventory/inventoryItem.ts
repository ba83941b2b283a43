import { type DomainEvent, ownEntry, schemaVersions } from '../decider';

export const INVENTORY_STREAM_TYPE = 'inventory';

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
  /** One reservation per order, kept after release/commit so repeats stay no-ops. */
  reservations: Record<string, Reservation>;
  /** References of restocks already applied. */
  restockReferences: string[];
}

export const initialInventoryItemState = (): InventoryItemState => ({
  received: 0,
  available: 0,
  reserved: 0,
  committed: 0,
  reservations: {},
  restockReferences: [],
});

export const reservationOf = (
  state: InventoryItemState,
  orderId: string,
): Reservation | undefined => ownEntry(state.reservations, orderId);

export function evolveInventoryItem(
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
        reservations: {
          ...state.reservations,
          [data.orderId]: { quantity: data.quantity, status: 'released' },
        },
      };
    case 'ReservationCommitted':
      return {
        ...state,
        reserved: state.reserved - data.quantity,
        committed: state.committed + data.quantity,
        reservations: {
          ...state.reservations,
          [data.orderId]: { quantity: data.quantity, status: 'committed' },
        },
      };
    default: {
      const _unknown: never = type;
      return state;
    }
  }
}
