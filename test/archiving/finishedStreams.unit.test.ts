import {
  isFinishedOrder,
  isFinishedShipment,
  isFinishedStream,
  isFinishedTransfer,
} from '../../src/archiving/finishedStreams';
import { ORDER_EVENT_TYPES } from '../../src/domain/order/order';

describe('which streams are finished', () => {
  it('orders: completed or cancelled, never one waiting for an operator', () => {
    const finished = ORDER_EVENT_TYPES.filter(isFinishedOrder);
    expect(finished).toEqual(['OrderCompleted', 'OrderCancelled']);
    expect(isFinishedOrder('OrderCompensationFailed')).toBe(false);
  });

  it('transfers: completed, failed before the debit, or compensated', () => {
    expect(isFinishedTransfer('TransferCompleted')).toBe(true);
    expect(isFinishedTransfer('TransferFailed')).toBe(true);
    expect(isFinishedTransfer('TransferCompensated')).toBe(true);
    expect(isFinishedTransfer('TransferDebited')).toBe(false);
    expect(isFinishedTransfer('TransferCompensationFailed')).toBe(false);
  });

  it('shipments: dispatched or cancelled', () => {
    expect(isFinishedShipment('ShipmentDispatched')).toBe(true);
    expect(isFinishedShipment('ShipmentCancelled')).toBe(true);
    expect(isFinishedShipment('ShipmentBooked')).toBe(false);
  });

  it('accounts and inventory items never finish; a type judges only its own streams', () => {
    expect(isFinishedStream('account', 'AccountFrozen')).toBe(false);
    expect(isFinishedStream('inventory', 'ReservationCommitted')).toBe(false);
    expect(isFinishedStream('order', 'TransferCompleted')).toBe(false);
    expect(isFinishedStream('order', 'OrderCompleted')).toBe(true);
  });
});
