import {
  COMMON_REJECTION_CODES,
  type Command,
  type Decision,
  reject,
  unknownCommand,
} from '../decider';
import type { ShipmentEvent, ShipmentState } from './shipment';

// Commands: imperative.

export type BookShipment = Command<
  'BookShipment',
  {
    shipmentId: string;
    orderId: string;
    destinationCountry: string;
    /** The carrier's configurable exclusion list travels in the command: decide stays pure. */
    unservedCountries: readonly string[];
  }
>;
export type CancelShipment = Command<'CancelShipment', { shipmentId: string; reason: string }>;
export type DispatchShipment = Command<'DispatchShipment', { shipmentId: string }>;

export type ShipmentCommand = BookShipment | CancelShipment | DispatchShipment;

/** Why this decider refuses a command (src/api/plugins/errors.ts gives each a status). */
export const SHIPMENT_REJECTION_CODES = [
  ...COMMON_REJECTION_CODES,
  'DESTINATION_NOT_SERVED',
  'SHIPMENT_CANCELLED',
  'SHIPMENT_DISPATCHED',
  'SHIPMENT_NOT_FOUND',
] as const;
export type ShipmentRejectionCode = (typeof SHIPMENT_REJECTION_CODES)[number];
type ShipmentDecision = Decision<ShipmentEvent, ShipmentRejectionCode>;

const normalizeCountry = (country: string): string => country.trim().toUpperCase();

export function decideShipment(command: ShipmentCommand, state: ShipmentState): ShipmentDecision {
  switch (command.type) {
    case 'BookShipment': {
      const { shipmentId, orderId, destinationCountry, unservedCountries } = command.data;
      // Booked before (whatever happened since): a repeat books nothing new.
      if (state.status !== 'none') return [];
      const destination = normalizeCountry(destinationCountry);
      if (unservedCountries.some((country) => normalizeCountry(country) === destination))
        return reject(
          'DESTINATION_NOT_SERVED',
          `Shipment ${shipmentId}: no carrier serves ${destinationCountry}`,
          { shipmentId, destinationCountry },
        );
      return [{ type: 'ShipmentBooked', data: { shipmentId, orderId, destinationCountry } }];
    }
    case 'CancelShipment': {
      const { shipmentId, reason } = command.data;
      if (state.status === 'voided' || state.status === 'cancelled') return [];
      // The booking never happened (yet): record the cancellation anyway, so a booking
      // that arrives late (a timed-out attempt still running) books nothing.
      if (state.status === 'none')
        return [{ type: 'ShipmentCancelled', data: { shipmentId, reason } }];
      if (state.status === 'dispatched')
        return reject('SHIPMENT_DISPATCHED', `Shipment ${shipmentId} was already dispatched`, {
          shipmentId,
        });
      return [{ type: 'ShipmentCancelled', data: { shipmentId, reason } }];
    }
    case 'DispatchShipment':
      return dispatchShipment(command, state);
    default:
      return unknownCommand(command);
  }
}

function dispatchShipment(
  { data: { shipmentId } }: DispatchShipment,
  state: ShipmentState,
): ShipmentDecision {
  switch (state.status) {
    case 'none':
      return reject('SHIPMENT_NOT_FOUND', `Shipment ${shipmentId} has not been booked`, {
        shipmentId,
      });
    case 'voided':
    case 'cancelled':
      return reject('SHIPMENT_CANCELLED', `Shipment ${shipmentId} was cancelled`, {
        shipmentId,
        reason: state.reason,
      });
    case 'dispatched':
      return [];
    case 'booked':
      return [{ type: 'ShipmentDispatched', data: { shipmentId } }];
  }
}
