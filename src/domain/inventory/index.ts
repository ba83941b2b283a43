import type { Decider } from '../decider';
import { type InventoryCommand, decideInventoryItem } from './businessLogic';
import {
  INVENTORY_EVENT_SCHEMA_VERSIONS,
  INVENTORY_STREAM_TYPE,
  inventoryStreamId,
  type InventoryEvent,
  type InventoryItemState,
  DEFAULT_RESERVATION_WINDOW,
  initialInventoryItemState,
  inventoryEvolver,
} from './inventoryItem';

export * from './businessLogic';
export * from './inventoryItem';

/**
 * The inventory decider (one stream per SKU: `inventory-<sku>`). `reservationWindow` is for
 * tests that need a small one; a deployment keeps the default (DEFAULT_RESERVATION_WINDOW).
 */
export function createInventoryDecider(
  options: { reservationWindow?: number } = {},
): Decider<InventoryItemState, InventoryCommand, InventoryEvent> {
  return {
    streamType: INVENTORY_STREAM_TYPE,
    streamId: inventoryStreamId,
    initialState: initialInventoryItemState,
    evolve: inventoryEvolver(options.reservationWindow ?? DEFAULT_RESERVATION_WINDOW),
    decide: decideInventoryItem,
    // 2: finished reservations are kept in a bounded window (finishedReservations) instead of
    // forever. Snapshots of version 1 are ignored (the stream replays once, then is snapshotted).
    snapshot: { every: 100, stateSchemaVersion: 2 },
    eventSchemaVersions: INVENTORY_EVENT_SCHEMA_VERSIONS,
  };
}

export const inventoryDecider = createInventoryDecider();
