import type { Decider } from '../decider';
import { type ShipmentCommand, decideShipment } from './businessLogic';
import {
  SHIPMENT_EVENT_SCHEMA_VERSIONS,
  SHIPMENT_STREAM_TYPE,
  shipmentStreamId,
  type ShipmentEvent,
  type ShipmentState,
  evolveShipment,
  initialShipmentState,
} from './shipment';

export * from './businessLogic';
export * from './shipment';

export const shipmentDecider: Decider<ShipmentState, ShipmentCommand, ShipmentEvent> = {
  streamType: SHIPMENT_STREAM_TYPE,
  streamId: shipmentStreamId,
  initialState: initialShipmentState,
  evolve: evolveShipment,
  decide: decideShipment,
  eventSchemaVersions: SHIPMENT_EVENT_SCHEMA_VERSIONS,
};
