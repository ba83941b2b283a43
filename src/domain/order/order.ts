import { type DomainEvent, schemaVersions } from '../decider';

export const ORDER_STREAM_TYPE = 'order';

// Ids: the order's stream, and the references its saga moves money under on accounts. They
// are in recorded events and saga histories: the strings never change.

/** The order's stream: `order-<orderId>`. */
export const orderStreamId = (orderId: string): string => `${ORDER_STREAM_TYPE}-${orderId}`;
/** The customer's debit (the saga's pivot), on the payment account. */
export const orderPaymentReference = (orderId: string): string =>
  `${orderStreamId(orderId)}/payment`;
/** The refund of that debit, on the payment account. */
export const orderRefundReference = (orderId: string): string => `${orderStreamId(orderId)}/refund`;
/** The credit of the revenue, on the merchant's account. */
export const orderRevenueReference = (orderId: string): string =>
  `${orderStreamId(orderId)}/revenue`;

export const ORDER_STATUSES = [
  'PLACED',
  'STOCK_RESERVED',
  'SHIPMENT_BOOKED',
  'AWAITING_APPROVAL',
  'PAID',
  'DISPATCHED',
  'COMPLETED',
  'CANCELLED',
  'COMPENSATION_FAILED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses from which the order may still be cancelled or its compensation fail (before PAID). */
export const ORDER_CANCELLABLE_STATUSES = [
  'PLACED',
  'STOCK_RESERVED',
  'SHIPMENT_BOOKED',
  'AWAITING_APPROVAL',
] as const satisfies readonly OrderStatus[];

export interface OrderItem {
  sku: string;
  /** Positive integer. */
  quantity: number;
  /** Minor units, positive integer. */
  unitPrice: number;
}

/** Currency of every order line: the one orders have always been priced in. */
export const ORDER_CURRENCY = 'EUR';

/** A line as the order records it (OrderPlaced v2 on): the item and the currency of its price. */
export interface OrderLine extends OrderItem {
  /** ISO 4217 code of unitPrice's currency. */
  currency: string;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  city: string;
  postalCode: string;
  country: string;
}

// Events: past tense, each carrying orderId.

export type OrderPlaced = DomainEvent<
  'OrderPlaced',
  {
    orderId: string;
    customerId: string;
    paymentAccountId: string;
    /** v2: every line carries its currency (v1 lines had none: ORDER_CURRENCY). */
    items: OrderLine[];
    /** sum(quantity * unitPrice), minor units. */
    total: number;
    shippingAddress: ShippingAddress;
    placedAt: string;
  }
>;
export type OrderStockReserved = DomainEvent<'OrderStockReserved', { orderId: string }>;
export type OrderShipmentBooked = DomainEvent<
  'OrderShipmentBooked',
  { orderId: string; shipmentId: string }
>;
export type OrderApprovalRequested = DomainEvent<'OrderApprovalRequested', { orderId: string }>;
export type OrderApproved = DomainEvent<'OrderApproved', { orderId: string; approvedBy?: string }>;
export type OrderPaid = DomainEvent<'OrderPaid', { orderId: string; amount: number }>;
export type OrderDispatched = DomainEvent<'OrderDispatched', { orderId: string }>;
export type OrderCompleted = DomainEvent<'OrderCompleted', { orderId: string }>;
export type OrderCancelled = DomainEvent<'OrderCancelled', { orderId: string; reason: string }>;
export type OrderCompensationFailed = DomainEvent<
  'OrderCompensationFailed',
  { orderId: string; reason: string }
>;

export type OrderEvent =
  | OrderPlaced
  | OrderStockReserved
  | OrderShipmentBooked
  | OrderApprovalRequested
  | OrderApproved
  | OrderPaid
  | OrderDispatched
  | OrderCompleted
  | OrderCancelled
  | OrderCompensationFailed;

export const ORDER_EVENT_TYPES = [
  'OrderPlaced',
  'OrderStockReserved',
  'OrderShipmentBooked',
  'OrderApprovalRequested',
  'OrderApproved',
  'OrderPaid',
  'OrderDispatched',
  'OrderCompleted',
  'OrderCancelled',
  'OrderCompensationFailed',
] as const satisfies readonly OrderEvent['type'][];

export const ORDER_EVENT_SCHEMA_VERSIONS: Readonly<Record<OrderEvent['type'], number>> =
  Object.freeze({
    ...schemaVersions<OrderEvent['type']>(ORDER_EVENT_TYPES),
    // 2: lines carry their currency (upcastOrderPlacedV1 supplies ORDER_CURRENCY).
    OrderPlaced: 2,
  });

/** Bump when PlacedOrder's shape changes: snapshots of older state are then ignored. */
export const ORDER_STATE_SCHEMA_VERSION = 2;

// State: a union keyed on status. Milestone flags make repeats no-ops even after the
// status moved on (e.g. MarkStockReserved after the order was cancelled).

export interface NoOrder {
  status: 'NONE';
}

export interface PlacedOrder {
  status: OrderStatus;
  orderId: string;
  customerId: string;
  paymentAccountId: string;
  /** State schema 2: lines carry their currency. */
  items: OrderLine[];
  total: number;
  shippingAddress: ShippingAddress;
  placedAt: string;
  stockReserved: boolean;
  shipmentId?: string;
  approvalRequested: boolean;
  /** Explicit: MarkPaid from AWAITING_APPROVAL needs it. */
  approved: boolean;
  approvedBy?: string;
  paidAmount?: number;
  dispatched: boolean;
  cancelReason?: string;
  compensationFailureReason?: string;
}

export type OrderState = NoOrder | PlacedOrder;

export const initialOrderState = (): OrderState => ({ status: 'NONE' });

export const orderTotal = (items: readonly OrderItem[]): number =>
  items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);

export function evolveOrder(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderPlaced') {
    if (state.status !== 'NONE') return state;
    const { orderId, customerId, paymentAccountId, items, total, shippingAddress, placedAt } =
      event.data;
    return {
      status: 'PLACED',
      orderId,
      customerId,
      paymentAccountId,
      items,
      total,
      shippingAddress,
      placedAt,
      stockReserved: false,
      approvalRequested: false,
      approved: false,
      dispatched: false,
    };
  }
  if (state.status === 'NONE') return state;
  const { type, data } = event;
  switch (type) {
    case 'OrderStockReserved':
      return { ...state, status: 'STOCK_RESERVED', stockReserved: true };
    case 'OrderShipmentBooked':
      return { ...state, status: 'SHIPMENT_BOOKED', shipmentId: data.shipmentId };
    case 'OrderApprovalRequested':
      return { ...state, status: 'AWAITING_APPROVAL', approvalRequested: true };
    case 'OrderApproved':
      // Stays AWAITING_APPROVAL until paid; the flag records the approval.
      return data.approvedBy === undefined
        ? { ...state, approved: true }
        : { ...state, approved: true, approvedBy: data.approvedBy };
    case 'OrderPaid':
      return { ...state, status: 'PAID', paidAmount: data.amount };
    case 'OrderDispatched':
      return { ...state, status: 'DISPATCHED', dispatched: true };
    case 'OrderCompleted':
      return { ...state, status: 'COMPLETED' };
    case 'OrderCancelled':
      return { ...state, status: 'CANCELLED', cancelReason: data.reason };
    case 'OrderCompensationFailed':
      return { ...state, status: 'COMPENSATION_FAILED', compensationFailureReason: data.reason };
    default: {
      const _unknown: never = type;
      return state;
    }
  }
}
