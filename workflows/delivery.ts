import { defineSignal } from '@temporalio/workflow';

/**
 * The carrier's delivery confirmation, as the inbound consumer (src/integration/inbound)
 * hands it to an order saga: ids and a time, never an address or a name.
 */
export interface ShipmentDeliveredSignal {
  /** The integration message id (`shipment.delivered.v1`): the same delivery always has the same one. */
  messageId: string;
  shipmentId: string | null;
  /** When the carrier says it delivered (ISO-8601), if it said. */
  deliveredAt: string | null;
}

/** Sent by the inbound delivery consumer; a second one (a redelivery, a duplicate) changes nothing. */
export const shipmentDeliveredSignal =
  defineSignal<[ShipmentDeliveredSignal?]>('shipmentDelivered');

/**
 * Sagas started before this patch completed the order right after dispatch; since, they
 * wait for the carrier's delivery confirmation first (workflows/orderFulfillment.ts).
 */
export const AWAIT_DELIVERY_PATCH = 'await-carrier-delivery';

/**
 * How long a saga whose input predates `deliveryTimeout` (it started on older code and
 * reached dispatch after the deploy) waits before flagging the order for an operator.
 */
export const FALLBACK_DELIVERY_TIMEOUT = '48h';

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/;
const SHORT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

/**
 * A signal's input is whatever the sender typed (the UI's JSON box too): keep the fields
 * that have the expected shape, drop the rest. A confirmation without a message id is
 * still a confirmation (an operator may send one by hand after checking with the carrier).
 */
export function deliveryOf(args: unknown): ShipmentDeliveredSignal {
  const value = (args !== null && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  const text = (field: unknown, shape: RegExp) =>
    typeof field === 'string' && shape.test(field) ? field : null;
  return {
    messageId: text(value.messageId, SHORT_ID) ?? 'unidentified',
    shipmentId: text(value.shipmentId, SHORT_ID),
    deliveredAt: text(value.deliveredAt, ISO_INSTANT),
  };
}

/**
 * Remembers the first delivery confirmation, whenever it arrives: before the saga waits for
 * it (buffered), while it waits, or after the order was flagged overdue. Later ones are
 * counted and otherwise ignored, so a confirmation delivered twice completes the order once.
 */
export class DeliveryInbox {
  private first: ShipmentDeliveredSignal | undefined;
  private duplicates = 0;

  receive(args: unknown): void {
    if (this.first === undefined) this.first = deliveryOf(args);
    else this.duplicates += 1;
  }

  get received(): ShipmentDeliveredSignal | undefined {
    return this.first;
  }

  get duplicatesIgnored(): number {
    return this.duplicates;
  }
}
