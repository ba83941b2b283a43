import {
  COMMON_REJECTION_CODES,
  type Command,
  type Decision,
  isPositiveInteger,
  reject,
  unknownCommand,
} from '../decider';
import { type InventoryEvent, type InventoryItemState, reservationOf } from './inventoryItem';

// Commands: imperative.

export type RestockItem = Command<
  'RestockItem',
  { sku: string; quantity: number; reference: string }
>;
export type ReserveStock = Command<
  'ReserveStock',
  { sku: string; orderId: string; quantity: number }
>;
export type ReleaseReservation = Command<'ReleaseReservation', { sku: string; orderId: string }>;
export type CommitReservation = Command<'CommitReservation', { sku: string; orderId: string }>;

export type InventoryCommand = RestockItem | ReserveStock | ReleaseReservation | CommitReservation;

/** Why this decider refuses a command (src/api/plugins/errors.ts gives each a status). */
export const INVENTORY_REJECTION_CODES = [
  ...COMMON_REJECTION_CODES,
  'INSUFFICIENT_STOCK',
  'INVALID_QUANTITY',
  'RESERVATION_COMMITTED',
  'RESERVATION_NOT_FOUND',
  'RESERVATION_RELEASED',
  'STOCK_LIMIT_EXCEEDED',
] as const;
export type InventoryRejectionCode = (typeof INVENTORY_REJECTION_CODES)[number];
type InventoryDecision = Decision<InventoryEvent, InventoryRejectionCode>;

export function decideInventoryItem(
  command: InventoryCommand,
  state: InventoryItemState,
): InventoryDecision {
  switch (command.type) {
    case 'RestockItem': {
      const { sku, quantity, reference } = command.data;
      if (!isPositiveInteger(quantity)) return invalidQuantity(quantity);
      if (state.restockReferences.includes(reference)) return [];
      // A valid quantity the item cannot take (beyond 2^53 - 1): a conflict with the state, 409.
      if (!Number.isSafeInteger(state.received + quantity))
        return reject(
          'STOCK_LIMIT_EXCEEDED',
          `SKU ${sku}: received ${state.received} + ${quantity} is beyond what an item holds`,
          { sku, quantity, received: state.received },
        );
      return [{ type: 'StockRestocked', data: { sku, quantity, reference } }];
    }
    case 'ReserveStock': {
      const { sku, orderId, quantity } = command.data;
      if (!isPositiveInteger(quantity)) return invalidQuantity(quantity);
      // One reservation per order, whatever became of it: a late retry must not reserve again.
      if (reservationOf(state, orderId)) return [];
      if (quantity > state.available)
        return reject(
          'INSUFFICIENT_STOCK',
          `SKU ${sku}: requested ${quantity}, available ${state.available}`,
          { sku, requested: quantity, available: state.available },
        );
      return [{ type: 'StockReserved', data: { sku, orderId, quantity } }];
    }
    case 'ReleaseReservation': {
      const { sku, orderId } = command.data;
      const reservation = reservationOf(state, orderId);
      if (reservation?.status === 'released') return [];
      // The reserve step never happened (yet): record a zero-quantity release as a
      // tombstone, so a reserve that arrives late (a timed-out attempt still running)
      // finds this order's reservation done and reserves nothing.
      if (!reservation)
        return [{ type: 'ReservationReleased', data: { sku, orderId, quantity: 0 } }];
      if (reservation.status === 'committed')
        return reject(
          'RESERVATION_COMMITTED',
          `SKU ${sku}: reservation of order ${orderId} is already committed`,
          { sku, orderId },
        );
      return [
        { type: 'ReservationReleased', data: { sku, orderId, quantity: reservation.quantity } },
      ];
    }
    case 'CommitReservation': {
      const { sku, orderId } = command.data;
      const reservation = reservationOf(state, orderId);
      if (!reservation)
        return reject('RESERVATION_NOT_FOUND', `SKU ${sku}: no reservation for order ${orderId}`, {
          sku,
          orderId,
        });
      if (reservation.status === 'committed') return [];
      if (reservation.status === 'released')
        return reject(
          'RESERVATION_RELEASED',
          `SKU ${sku}: reservation of order ${orderId} was released`,
          { sku, orderId },
        );
      return [
        { type: 'ReservationCommitted', data: { sku, orderId, quantity: reservation.quantity } },
      ];
    }
    default:
      return unknownCommand(command);
  }
}

const invalidQuantity = (quantity: unknown) =>
  reject('INVALID_QUANTITY', `Quantity must be a positive integer, got ${String(quantity)}`, {
    quantity,
  });
