import type { ClientBase } from 'pg';
import type { InventoryEvent } from '../../domain/inventory';
import { INVENTORY_EVENT_TYPES } from '../../domain/inventory';
import type { RecordedEvent, SqlExecutor } from '../../eventstore';
import type { Projection } from '../types';

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

  async handle(db: ClientBase, recorded: RecordedEvent, table: string) {
    const [available, reserved, committed, received] = inventoryDeltas(
      recorded as unknown as InventoryEvent,
    );
    const sku = (recorded.data as { sku: string }).sku;
    const position = recorded.globalPosition.toString();
    if (recorded.version === 1) {
      await db.query(
        `INSERT INTO ${table} (sku, available, reserved, committed, received, version, last_position)
         VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (sku) DO NOTHING`,
        [sku, available, reserved, committed, received, position],
      );
      return;
    }
    await db.query(
      `UPDATE ${table}
          SET available = available + $3, reserved = reserved + $4, committed = committed + $5,
              received = received + $6, version = $2, last_position = $7
        WHERE sku = $1 AND version = $2 - 1`,
      [sku, recorded.version, available, reserved, committed, received, position],
    );
  },
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
