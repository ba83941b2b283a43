import { EventData, Id, Text, v1Only, type EventSchemaCatalogue } from '../eventSchemaTypes';
import type { ShipmentEvent } from './shipment';

/** Every version of every shipment event's data. */
export const SHIPMENT_EVENT_SCHEMAS: EventSchemaCatalogue<ShipmentEvent['type']> = {
  ShipmentBooked: v1Only(
    EventData({ shipmentId: Id(), orderId: Id(), destinationCountry: Text() }),
  ),
  ShipmentCancelled: v1Only(EventData({ shipmentId: Id(), reason: Text() })),
  ShipmentDispatched: v1Only(EventData({ shipmentId: Id() })),
};
