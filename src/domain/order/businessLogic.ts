import {
  COMMON_REJECTION_CODES,
  type Command,
  type Decision,
  type DomainRejection,
  isPositiveInteger,
  reject,
  unknownCommand,
} from '../decider';
import {
  ORDER_CANCELLABLE_STATUSES,
  ORDER_CURRENCY,
  type OrderEvent,
  type OrderItem,
  type OrderState,
  type OrderStatus,
  type PlacedOrder,
  type ShippingAddress,
  orderTotal,
} from './order';

/** Why this decider refuses a command (src/api/plugins/errors.ts gives each a status). */
export const ORDER_REJECTION_CODES = [
  ...COMMON_REJECTION_CODES,
  'EMPTY_ORDER',
  'ILLEGAL_TRANSITION',
  'INVALID_AMOUNT',
  'INVALID_QUANTITY',
  'INVALID_REPEATED_SKU',
] as const;
export type OrderRejectionCode = (typeof ORDER_REJECTION_CODES)[number];
type OrderDecision = Decision<OrderEvent, OrderRejectionCode>;

// Commands: imperative, each naming its order.

export type PlaceOrder = Command<
  'PlaceOrder',
  {
    orderId: string;
    customerId: string;
    paymentAccountId: string;
    items: OrderItem[];
    shippingAddress: ShippingAddress;
  }
>;
export type MarkStockReserved = Command<'MarkStockReserved', { orderId: string }>;
export type MarkShipmentBooked = Command<
  'MarkShipmentBooked',
  { orderId: string; shipmentId: string }
>;
export type RequestApproval = Command<'RequestApproval', { orderId: string }>;
export type ApproveOrder = Command<'ApproveOrder', { orderId: string; approvedBy?: string }>;
export type MarkPaid = Command<'MarkPaid', { orderId: string; amount: number }>;
export type MarkDispatched = Command<'MarkDispatched', { orderId: string }>;
export type CompleteOrder = Command<'CompleteOrder', { orderId: string }>;
export type CancelOrder = Command<'CancelOrder', { orderId: string; reason: string }>;
export type MarkCompensationFailed = Command<
  'MarkCompensationFailed',
  { orderId: string; reason: string }
>;

export type OrderCommand =
  | PlaceOrder
  | MarkStockReserved
  | MarkShipmentBooked
  | RequestApproval
  | ApproveOrder
  | MarkPaid
  | MarkDispatched
  | CompleteOrder
  | CancelOrder
  | MarkCompensationFailed;

/**
 * PLACED -> STOCK_RESERVED -> SHIPMENT_BOOKED -> (AWAITING_APPROVAL -> approved) -> PAID
 * -> DISPATCHED -> COMPLETED. CancelOrder and MarkCompensationFailed before PAID; CancelOrder
 * also from COMPENSATION_FAILED. Repeating what already happened decides nothing.
 */
export function decideOrder(command: OrderCommand, state: OrderState): OrderDecision {
  if (command.type === 'PlaceOrder') return placeOrder(command, state);
  if (state.status === 'NONE') return illegal(state.status, command);
  const { orderId } = state;
  switch (command.type) {
    case 'MarkStockReserved':
      if (state.stockReserved) return [];
      if (state.status !== 'PLACED') return illegal(state.status, command);
      return [{ type: 'OrderStockReserved', data: { orderId } }];
    case 'MarkShipmentBooked': {
      const { shipmentId } = command.data;
      if (state.shipmentId === shipmentId) return [];
      if (state.status !== 'STOCK_RESERVED' || state.shipmentId !== undefined)
        return illegal(state.status, command, { shipmentId: state.shipmentId });
      return [{ type: 'OrderShipmentBooked', data: { orderId, shipmentId } }];
    }
    case 'RequestApproval':
      if (state.approvalRequested) return [];
      if (state.status !== 'SHIPMENT_BOOKED') return illegal(state.status, command);
      return [{ type: 'OrderApprovalRequested', data: { orderId } }];
    case 'ApproveOrder': {
      if (state.approved) return [];
      if (state.status !== 'AWAITING_APPROVAL') return illegal(state.status, command);
      const { approvedBy } = command.data;
      return [
        {
          type: 'OrderApproved',
          data: approvedBy === undefined ? { orderId } : { orderId, approvedBy },
        },
      ];
    }
    case 'MarkPaid': {
      const { amount } = command.data;
      if (!isPositiveInteger(amount)) return invalidAmount(amount);
      if (state.paidAmount !== undefined) return [];
      const payable =
        (state.status === 'SHIPMENT_BOOKED' && !state.approvalRequested) ||
        (state.status === 'AWAITING_APPROVAL' && state.approved);
      if (!payable) return illegal(state.status, command, { approved: state.approved });
      if (amount !== state.total)
        return reject('INVALID_AMOUNT', `Order ${orderId}: paid ${amount}, total ${state.total}`, {
          amount,
          total: state.total,
        });
      return [{ type: 'OrderPaid', data: { orderId, amount } }];
    }
    case 'MarkDispatched':
      if (state.dispatched) return [];
      if (state.status !== 'PAID') return illegal(state.status, command);
      return [{ type: 'OrderDispatched', data: { orderId } }];
    case 'CompleteOrder':
      if (state.status === 'COMPLETED') return [];
      if (state.status !== 'DISPATCHED') return illegal(state.status, command);
      return [{ type: 'OrderCompleted', data: { orderId } }];
    case 'CancelOrder':
      if (state.status === 'CANCELLED') return [];
      if (!isCancellable(state.status) && state.status !== 'COMPENSATION_FAILED')
        return illegal(state.status, command);
      return [{ type: 'OrderCancelled', data: { orderId, reason: command.data.reason } }];
    case 'MarkCompensationFailed':
      if (state.status === 'COMPENSATION_FAILED') return [];
      if (!isCancellable(state.status)) return illegal(state.status, command);
      return [{ type: 'OrderCompensationFailed', data: { orderId, reason: command.data.reason } }];
    default:
      return unknownCommand(command);
  }
}

function placeOrder({ data, metadata }: PlaceOrder, state: OrderState): OrderDecision {
  const { orderId, customerId, paymentAccountId, items, shippingAddress } = data;
  if (items.length === 0)
    return reject('EMPTY_ORDER', `Order ${orderId} has no items`, { orderId });
  const repeated = firstRepeatedSku(items);
  if (repeated)
    return reject(
      'INVALID_REPEATED_SKU',
      `Order ${orderId}: line ${repeated.line} repeats SKU ${repeated.sku} of line ${repeated.firstLine}`,
      { orderId, ...repeated },
    );
  for (const { sku, quantity, unitPrice } of items) {
    if (!isPositiveInteger(quantity))
      return reject(
        'INVALID_QUANTITY',
        `Order ${orderId}: quantity of ${sku} must be a positive integer`,
        {
          sku,
          quantity,
        },
      );
    if (!isPositiveInteger(unitPrice)) return invalidAmount(unitPrice, { sku });
  }
  const total = orderTotal(items);
  if (!Number.isSafeInteger(total)) return invalidAmount(total);
  if (state.status !== 'NONE') return [];
  return [
    {
      type: 'OrderPlaced',
      data: {
        orderId,
        customerId,
        paymentAccountId,
        items: items.map(({ sku, quantity, unitPrice }) => ({
          sku,
          quantity,
          unitPrice,
          currency: ORDER_CURRENCY,
        })),
        total,
        shippingAddress: { ...shippingAddress },
        placedAt: metadata.now,
      },
    },
  ];
}

/**
 * A SKU on two lines: refused, because stock is reserved once per (SKU, order), so the
 * second line would be charged but never reserved. Lines are numbered from 0.
 */
export function firstRepeatedSku(
  items: readonly Pick<OrderItem, 'sku'>[],
): { sku: string; line: number; firstLine: number } | undefined {
  const firstLineOf = new Map<string, number>();
  for (const [line, { sku }] of items.entries()) {
    const firstLine = firstLineOf.get(sku);
    if (firstLine !== undefined) return { sku, line, firstLine };
    firstLineOf.set(sku, line);
  }
  return undefined;
}

/**
 * Whether a PlaceOrder that found the order already placed asked for the same order: the
 * same customer, account, lines and destination country. (The rest of the address is
 * sealed in the loaded state; a retry's full body is the idempotency key's fingerprint.)
 */
export function placedAsRequested(order: PlacedOrder, request: PlaceOrder['data']): boolean {
  const sameLines =
    order.items.length === request.items.length &&
    order.items.every(
      (item, line) =>
        item.sku === request.items[line]!.sku &&
        item.quantity === request.items[line]!.quantity &&
        item.unitPrice === request.items[line]!.unitPrice,
    );
  return (
    sameLines &&
    order.customerId === request.customerId &&
    order.paymentAccountId === request.paymentAccountId &&
    order.shippingAddress.country === request.shippingAddress.country
  );
}

const isCancellable = (status: PlacedOrder['status']): boolean =>
  (ORDER_CANCELLABLE_STATUSES as readonly OrderStatus[]).includes(status);

const illegal = (
  from: OrderState['status'],
  command: OrderCommand,
  extra?: Record<string, unknown>,
): DomainRejection<'ILLEGAL_TRANSITION'> =>
  reject('ILLEGAL_TRANSITION', `Order: ${command.type} is not allowed from ${from}`, {
    ...extra,
    from,
    command: command.type,
  });

const invalidAmount = (amount: unknown, extra?: Record<string, unknown>) =>
  reject(
    'INVALID_AMOUNT',
    `Amount must be a positive integer in minor units, got ${String(amount)}`,
    {
      ...extra,
      amount,
    },
  );
