import { Type } from '../../infra/typebox';
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

const orderPlaced = (line: ReturnType<typeof EventData>) =>
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

/** Every version of every order event's data. */
export const ORDER_EVENT_SCHEMAS: EventSchemaCatalogue<OrderEvent['type']> = {
  OrderPlaced: [
    { version: 1, schema: orderPlaced(EventData(lineV1)) },
    {
      version: 2,
      schema: orderPlaced(
        EventData({ ...lineV1, currency: Type.String({ pattern: '^[A-Z]{3}$' }) }),
      ),
      upcastFromPrevious: upcastOrderPlacedV1,
    },
  ],
  OrderStockReserved: v1Only(withOrderId()),
  OrderShipmentBooked: v1Only(EventData({ orderId: Id(), shipmentId: Id() })),
  OrderApprovalRequested: v1Only(withOrderId()),
  OrderApproved: v1Only(EventData({ orderId: Id(), approvedBy: Type.Optional(Text()) })),
  OrderPaid: v1Only(EventData({ orderId: Id(), amount: Amount() })),
  OrderDispatched: v1Only(withOrderId()),
  OrderCompleted: v1Only(withOrderId()),
  OrderCancelled: v1Only(withReason()),
  OrderCompensationFailed: v1Only(withReason()),
};
