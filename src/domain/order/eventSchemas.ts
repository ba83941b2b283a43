import { Type, type TSchema } from '../../infra/typebox';
import {
  Amount,
  EventData,
  Id,
  Instant,
  Personal,
  Quantity,
  Text,
  v1Only,
  type EventSchemaCatalogue,
  checkEventTypes,
  type UntypedEvents,
} from '../eventSchemaTypes';
import { ORDER_CURRENCY, type OrderEvent } from './order';

const ShippingAddress = EventData({
  name: Personal(Type.String()),
  line1: Personal(Type.String()),
  city: Personal(Type.String()),
  postalCode: Personal(Type.String()),
  // Not personal: the destination country decides where an order may ship.
  country: Type.String(),
});

const lineV1 = { sku: Id(), quantity: Quantity(), unitPrice: Amount() };

const orderPlaced = <Line extends TSchema>(line: Line) =>
  EventData({
    orderId: Id(),
    customerId: Id(),
    paymentAccountId: Id(),
    items: Type.Array(line, { minItems: 1 }),
    total: Amount(),
    shippingAddress: ShippingAddress,
    placedAt: Instant(),
  });

/** OrderPlaced v1 -> v2: lines had no currency; every order was priced in ORDER_CURRENCY. */
export function upcastOrderPlacedV1(data: unknown): unknown {
  const placed = data as { items?: unknown };
  if (!Array.isArray(placed.items)) return data;
  return {
    ...placed,
    items: placed.items.map((line: unknown) =>
      typeof line === 'object' && line !== null && !('currency' in line)
        ? { ...line, currency: ORDER_CURRENCY }
        : line,
    ),
  };
}

const withOrderId = () => EventData({ orderId: Id() });
const withReason = () => EventData({ orderId: Id(), reason: Text() });

/** The current schema of each order event's data. */
const CURRENT = {
  OrderPlaced: orderPlaced(
    EventData({ ...lineV1, currency: Type.String({ pattern: '^[A-Z]{3}$' }) }),
  ),
  OrderStockReserved: withOrderId(),
  OrderShipmentBooked: EventData({ orderId: Id(), shipmentId: Id() }),
  OrderApprovalRequested: withOrderId(),
  OrderApproved: EventData({ orderId: Id(), approvedBy: Type.Optional(Text()) }),
  OrderPaid: EventData({ orderId: Id(), amount: Amount() }),
  OrderDispatched: withOrderId(),
  OrderCompleted: withOrderId(),
  OrderCancelled: withReason(),
  OrderCompensationFailed: withReason(),
};
// Compile-time join: what the decider may write, the current schemas type.
checkEventTypes<UntypedEvents<OrderEvent, typeof CURRENT>>();

/** Every version of every order event's data. */
export const ORDER_EVENT_SCHEMAS: EventSchemaCatalogue<OrderEvent['type']> = {
  OrderPlaced: [
    { version: 1, schema: orderPlaced(EventData(lineV1)) },
    { version: 2, schema: CURRENT.OrderPlaced, upcastFromPrevious: upcastOrderPlacedV1 },
  ],
  OrderStockReserved: v1Only(CURRENT.OrderStockReserved),
  OrderShipmentBooked: v1Only(CURRENT.OrderShipmentBooked),
  OrderApprovalRequested: v1Only(CURRENT.OrderApprovalRequested),
  OrderApproved: v1Only(CURRENT.OrderApproved),
  OrderPaid: v1Only(CURRENT.OrderPaid),
  OrderDispatched: v1Only(CURRENT.OrderDispatched),
  OrderCompleted: v1Only(CURRENT.OrderCompleted),
  OrderCancelled: v1Only(CURRENT.OrderCancelled),
  OrderCompensationFailed: v1Only(CURRENT.OrderCompensationFailed),
};
