import { type DomainEvent, schemaVersions } from '../decider';

export const SHIPMENT_STREAM_TYPE = 'shipment';

/** The shipment's stream: `shipment-<shipmentId>`. */
export const shipmentStreamId = (shipmentId: string): string =>
  `${SHIPMENT_STREAM_TYPE}-${shipmentId}`;

// Events: past tense.

export type ShipmentBooked = DomainEvent<
  'ShipmentBooked',
  { shipmentId: string; orderId: string; destinationCountry: string }
>;
export type ShipmentCancelled = DomainEvent<
  'ShipmentCancelled',
  { shipmentId: string; reason: string }
>;
export type ShipmentDispatched = DomainEvent<'ShipmentDispatched', { shipmentId: string }>;

export type ShipmentEvent = ShipmentBooked | ShipmentCancelled | ShipmentDispatched;

export const SHIPMENT_EVENT_TYPES = [
  'ShipmentBooked',
  'ShipmentCancelled',
  'ShipmentDispatched',
] as const satisfies readonly ShipmentEvent['type'][];

export const SHIPMENT_EVENT_SCHEMA_VERSIONS =
  schemaVersions<ShipmentEvent['type']>(SHIPMENT_EVENT_TYPES);

// State: a union keyed on status.

export const SHIPMENT_STATUSES = ['none', 'voided', 'booked', 'cancelled', 'dispatched'] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

export interface NoShipment {
  status: 'none';
}

interface ExistingShipment {
  shipmentId: string;
  orderId: string;
  destinationCountry: string;
}

export interface BookedShipment extends ExistingShipment {
  status: 'booked';
}

export interface CancelledShipment extends ExistingShipment {
  status: 'cancelled';
  reason: string;
}

export interface DispatchedShipment extends ExistingShipment {
  status: 'dispatched';
}

/** Cancelled before any booking arrived: a late booking for this id books nothing. */
export interface VoidedShipment {
  status: 'voided';
  shipmentId: string;
  reason: string;
}

export type ShipmentState =
  NoShipment | VoidedShipment | BookedShipment | CancelledShipment | DispatchedShipment;

export const initialShipmentState = (): ShipmentState => ({ status: 'none' });

// Every state's status is in SHIPMENT_STATUSES, and every listed status has a state.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const statusesListed: Same<ShipmentState['status'], ShipmentStatus> = true;
void statusesListed;

export function evolveShipment(state: ShipmentState, event: ShipmentEvent): ShipmentState {
  const { type, data } = event;
  switch (type) {
    case 'ShipmentBooked':
      if (state.status !== 'none') return state;
      return {
        status: 'booked',
        shipmentId: data.shipmentId,
        orderId: data.orderId,
        destinationCountry: data.destinationCountry,
      };
    case 'ShipmentCancelled':
      if (state.status === 'none')
        return { status: 'voided', shipmentId: data.shipmentId, reason: data.reason };
      if (state.status === 'voided') return state;
      return { ...state, status: 'cancelled', reason: data.reason };
    case 'ShipmentDispatched':
      if (state.status === 'none' || state.status === 'voided') return state;
      return {
        status: 'dispatched',
        shipmentId: state.shipmentId,
        orderId: state.orderId,
        destinationCountry: state.destinationCountry,
      };
    default: {
      const _unknown: never = type;
      return state;
    }
  }
}
