import type { Decider } from '../decider';
import { type InventoryCommand, decideInventoryItem } from './businessLogic';
import {
  INVENTORY_EVENT_SCHEMA_VERSIONS,
  INVENTORY_STREAM_TYPE,
  type InventoryEvent,
  type InventoryItemState,
  evolveInventoryItem,
  initialInventoryItemState,
} from './inventoryItem';

export * from './businessLogic';
export * from './inventoryItem';

/** One stream per SKU: `inventory-<sku>`. */
export const inventoryDecider: Decider<InventoryItemState, InventoryCommand, InventoryEvent> = {
  streamType: INVENTORY_STREAM_TYPE,
  streamId: (sku) => `${INVENTORY_STREAM_TYPE}-${sku}`,
  initialState: initialInventoryItemState,
  evolve: evolveInventoryItem,
  decide: decideInventoryItem,
  snapshot: { every: 100, stateSchemaVersion: 1 },
  eventSchemaVersions: INVENTORY_EVENT_SCHEMA_VERSIONS,
};
