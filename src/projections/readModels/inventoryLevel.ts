import type { InventoryEvent } from '../../domain/inventory';
import { INVENTORY_EVENT_TYPES } from '../../domain/inventory';
import type { SqlExecutor } from '../../eventstore';
import { keyedRowHandlers, type KeyedRowModel } from '../keyedRows';
import type { Projection } from '../types';

interface InventoryLevelRow {
  sku: string;
  available: number;
  reserved: number;
  committed: number;
  received: number;
  version: number;
  last_position: number;
}

const inventoryLevelRows: KeyedRowModel<InventoryLevelRow> = {
  columns: [
    ['sku', 'text'],
    ['available', 'bigint'],
    ['reserved', 'bigint'],
    ['committed', 'bigint'],
    ['received', 'bigint'],
    ['version', 'integer'],
    ['last_position', 'bigint'],
  ],
  keyOf: (recorded) => (recorded.data as { sku: string }).sku,
  fold(row, recorded) {
    const [available, reserved, committed, received] = inventoryDeltas(
      recorded as unknown as InventoryEvent,
    );
    const stamp = { version: recorded.version, last_position: Number(recorded.globalPosition) };
    // Any event type may open a SKU's stream (the first restock or reservation).
    if (!row) {
      const sku = (recorded.data as { sku: string }).sku;
      return { sku, available, reserved, committed, received, ...stamp };
    }
    return {
      ...row,
      available: row.available + available,
      reserved: row.reserved + reserved,
      committed: row.committed + committed,
      received: row.received + received,
      ...stamp,
    };
  },
};

/** Stock figures per SKU (stream `inventory-<sku>`). */
export const inventoryLevelProjection: Projection = {
  name: 'inventory_level',
  version: 1,
  eventTypes: INVENTORY_EVENT_TYPES,
  streamRows: { column: 'sku', streamPrefix: 'inventory-' },

  async createTables(db: SqlExecutor, table: string) {
    await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
      sku           text    PRIMARY KEY,
      available     bigint  NOT NULL,
      reserved      bigint  NOT NULL,
      committed     bigint  NOT NULL,
      received      bigint  NOT NULL,
      version       integer NOT NULL,
      last_position bigint  NOT NULL
    )`);
  },

  ...keyedRowHandlers(inventoryLevelRows),
};

/** [available, reserved, committed, received] changes of one event. */
export function inventoryDeltas(event: InventoryEvent): [number, number, number, number] {
  const q = event.data.quantity;
  switch (event.type) {
    case 'StockRestocked':
      return [q, 0, 0, q];
    case 'StockReserved':
      return [-q, q, 0, 0];
    case 'ReservationReleased':
      return [q, -q, 0, 0];
    case 'ReservationCommitted':
      return [0, -q, q, 0];
    default:
      return [0, 0, 0, 0];
  }
}
