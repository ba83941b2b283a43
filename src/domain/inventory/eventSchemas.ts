import {
  checkEventTypes,
  EventData,
  Id,
  Text,
  v1Only,
  type EventSchemaCatalogue,
  type UntypedEvents,
} from '../eventSchemaTypes';
import { Type } from '../../infra/typebox';
import type { InventoryEvent } from './inventoryItem';

const count = () => Type.Integer({ minimum: 0 });
const reservation = () => EventData({ sku: Id(), orderId: Id(), quantity: count() });

/** The current (only) schema of each inventory event's data. */
const CURRENT = {
  StockRestocked: EventData({ sku: Id(), quantity: count(), reference: Text() }),
  StockReserved: reservation(),
  ReservationReleased: reservation(),
  ReservationCommitted: reservation(),
};
checkEventTypes<UntypedEvents<InventoryEvent, typeof CURRENT>>();

/** Every version of every inventory event's data. */
export const INVENTORY_EVENT_SCHEMAS: EventSchemaCatalogue<InventoryEvent['type']> = {
  StockRestocked: v1Only(CURRENT.StockRestocked),
  StockReserved: v1Only(CURRENT.StockReserved),
  ReservationReleased: v1Only(CURRENT.ReservationReleased),
  ReservationCommitted: v1Only(CURRENT.ReservationCommitted),
};
