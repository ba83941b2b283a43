/**
 * Which streams are finished: their aggregate reached a state no command moves it out of,
 * so nothing will be appended again and the stream may be archived. One function per
 * aggregate kind, judged by the stream's last event (an aggregate's state is the fold of
 * its events, and each terminal state is entered by exactly these events).
 *
 * Accounts and inventory items are never finished: they live as long as the business does.
 */
import { ORDER_STREAM_TYPE, type OrderEvent } from '../domain/order/order';
import { SHIPMENT_STREAM_TYPE, type ShipmentEvent } from '../domain/shipment/shipment';
import { TRANSFER_STREAM_TYPE, type TransferEvent } from '../domain/transfer/transfer';

/**
 * Completed or cancelled. Not COMPENSATION_FAILED: such an order waits for an operator,
 * whose retried compensation appends to it.
 */
const ORDER_FINISHING_EVENTS = [
  'OrderCompleted',
  'OrderCancelled',
] as const satisfies readonly OrderEvent['type'][];

/**
 * Completed, failed before its debit, or compensated after a failure. A failure after the
 * debit is followed by TransferCompensated (or TransferCompensationFailed, which waits for
 * an operator), so FAILED is only the last event where nothing was taken; a compensation
 * still running is far younger than ARCHIVE_AFTER.
 */
const TRANSFER_FINISHING_EVENTS = [
  'TransferCompleted',
  'TransferFailed',
  'TransferCompensated',
] as const satisfies readonly TransferEvent['type'][];

/** Closed: dispatched (handed to the carrier) or cancelled (also a void before booking). */
const SHIPMENT_FINISHING_EVENTS = [
  'ShipmentDispatched',
  'ShipmentCancelled',
] as const satisfies readonly ShipmentEvent['type'][];

const isOneOf = (types: readonly string[], lastEventType: string) => types.includes(lastEventType);

export const isFinishedOrder = (lastEventType: string): boolean =>
  isOneOf(ORDER_FINISHING_EVENTS, lastEventType);

export const isFinishedTransfer = (lastEventType: string): boolean =>
  isOneOf(TRANSFER_FINISHING_EVENTS, lastEventType);

export const isFinishedShipment = (lastEventType: string): boolean =>
  isOneOf(SHIPMENT_FINISHING_EVENTS, lastEventType);

export interface FinishedStreamRule {
  streamType: string;
  /** Event types that end the aggregate: the archiver looks for streams ending in one. */
  finishingEvents: readonly string[];
  isFinished(lastEventType: string): boolean;
}

export const FINISHED_STREAM_RULES: readonly FinishedStreamRule[] = [
  {
    streamType: ORDER_STREAM_TYPE,
    finishingEvents: ORDER_FINISHING_EVENTS,
    isFinished: isFinishedOrder,
  },
  {
    streamType: TRANSFER_STREAM_TYPE,
    finishingEvents: TRANSFER_FINISHING_EVENTS,
    isFinished: isFinishedTransfer,
  },
  {
    streamType: SHIPMENT_STREAM_TYPE,
    finishingEvents: SHIPMENT_FINISHING_EVENTS,
    isFinished: isFinishedShipment,
  },
];

/** Whether a stream of this type whose last event is of this type is finished. */
export function isFinishedStream(streamType: string, lastEventType: string): boolean {
  return (
    FINISHED_STREAM_RULES.find((rule) => rule.streamType === streamType)?.isFinished(
      lastEventType,
    ) ?? false
  );
}
