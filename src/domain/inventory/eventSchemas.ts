import { EventData, Id, Text, v1Only, type EventSchemaCatalogue } from '../eventSchemaTypes';
import { Type } from '../../infra/typebox';
import type { InventoryEvent } from './inventoryItem';

const count = () => Type.Integer({ minimum: 0 });
const reservation = () => EventData({ sku: Id(), orderId: Id(), quantity: count() });

/** Every version of every inventory event's data. */
export const INVENTORY_EVENT_SCHEMAS: EventSchemaCatalogue<InventoryEvent['type']> = {
  StockRestocked: v1Only(EventData({ sku: Id(), quantity: count(), reference: Text() })),
  StockReserved: v1Only(reservation()),
  ReservationReleased: v1Only(reservation()),
  ReservationCommitted: v1Only(reservation()),
};
