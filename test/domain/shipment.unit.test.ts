import {
  type ShipmentCommand,
  type ShipmentEvent,
  shipmentDecider,
} from '../../src/domain/shipment';
import { DeciderSpecification } from '../support/deciderSpec';

const metadata = { now: '2025-01-02T03:04:05.000Z' };
const spec = DeciderSpecification.for(shipmentDecider);

const book = (destinationCountry = 'DE', unservedCountries = ['KP', 'aq']): ShipmentCommand => ({
  type: 'BookShipment',
  data: { shipmentId: 'sh-1', orderId: 'o-1', destinationCountry, unservedCountries },
  metadata,
});
const cancel: ShipmentCommand = {
  type: 'CancelShipment',
  data: { shipmentId: 'sh-1', reason: 'payment failed' },
  metadata,
};
const dispatch: ShipmentCommand = {
  type: 'DispatchShipment',
  data: { shipmentId: 'sh-1' },
  metadata,
};

const booked: ShipmentEvent = {
  type: 'ShipmentBooked',
  data: { shipmentId: 'sh-1', orderId: 'o-1', destinationCountry: 'DE' },
};
const cancelled: ShipmentEvent = {
  type: 'ShipmentCancelled',
  data: { shipmentId: 'sh-1', reason: 'payment failed' },
};
const dispatched: ShipmentEvent = { type: 'ShipmentDispatched', data: { shipmentId: 'sh-1' } };

describe('Shipment decider', () => {
  it('uses shipment-<id> streams', () => {
    expect(shipmentDecider.streamType).toBe('shipment');
    expect(shipmentDecider.streamId('sh-1')).toBe('shipment-sh-1');
  });

  describe('BookShipment', () => {
    it('books a served destination', () => {
      const state = spec.when(book()).then([booked]);
      expect(state.status).toBe('booked');
    });
    it('books when no country is excluded', () => {
      spec.when(book('DE', [])).then([booked]);
    });
    it('rejects an unserved destination, case-insensitively', () => {
      spec.when(book('kp')).thenRejects('DESTINATION_NOT_SERVED', { destinationCountry: 'kp' });
      spec.when(book('AQ')).thenRejects('DESTINATION_NOT_SERVED');
      spec.when(book(' Aq ')).thenRejects('DESTINATION_NOT_SERVED');
    });
    it('is idempotent, also after cancel or dispatch', () => {
      spec.given([booked]).when(book()).thenNothing();
      spec.given([booked, cancelled]).when(book()).thenNothing();
      spec.given([booked, dispatched]).when(book()).thenNothing();
    });
  });

  describe('CancelShipment', () => {
    it('cancels a booked shipment', () => {
      spec.given([booked]).when(cancel).then([cancelled]);
    });
    it('voids the shipment when it was not booked yet, and is harmless when already cancelled', () => {
      const state = spec.when(cancel).then([cancelled]);
      expect(state).toMatchObject({ status: 'voided' });
      spec.given([cancelled]).when(cancel).thenNothing();
      spec.given([booked, cancelled]).when(cancel).thenNothing();
    });
    it('makes a booking that arrives after its cancellation a no-op (late zombie)', () => {
      spec.given([cancelled]).when(book()).thenNothing();
      spec.given([cancelled]).when(dispatch).thenRejects('SHIPMENT_CANCELLED');
    });
    it('rejects cancelling a dispatched shipment', () => {
      spec.given([booked, dispatched]).when(cancel).thenRejects('SHIPMENT_DISPATCHED');
    });
  });

  describe('DispatchShipment', () => {
    it('dispatches a booked shipment', () => {
      const state = spec.given([booked]).when(dispatch).then([dispatched]);
      expect(state).toMatchObject({ status: 'dispatched', orderId: 'o-1' });
    });
    it('is idempotent', () => {
      spec.given([booked, dispatched]).when(dispatch).thenNothing();
    });
    it('rejects dispatch before booking', () => {
      spec.when(dispatch).thenRejects('SHIPMENT_NOT_FOUND');
    });
    it('rejects dispatch after cancel', () => {
      spec.given([booked, cancelled]).when(dispatch).thenRejects('SHIPMENT_CANCELLED');
    });
  });
});
