import {
  checkEventTypes,
  EventData,
  Id,
  Text,
  v1Only,
  type EventSchemaCatalogue,
  type UntypedEvents,
} from '../eventSchemaTypes';
import type { ShipmentEvent } from './shipment';

/** The current (only) schema of each shipment event's data. */
const CURRENT = {
  ShipmentBooked: EventData({ shipmentId: Id(), orderId: Id(), destinationCountry: Text() }),
  ShipmentCancelled: EventData({ shipmentId: Id(), reason: Text() }),
  ShipmentDispatched: EventData({ shipmentId: Id() }),
};
checkEventTypes<UntypedEvents<ShipmentEvent, typeof CURRENT>>();

/** Every version of every shipment event's data. */
export const SHIPMENT_EVENT_SCHEMAS: EventSchemaCatalogue<ShipmentEvent['type']> = {
  ShipmentBooked: v1Only(CURRENT.ShipmentBooked),
  ShipmentCancelled: v1Only(CURRENT.ShipmentCancelled),
  ShipmentDispatched: v1Only(CURRENT.ShipmentDispatched),
};
