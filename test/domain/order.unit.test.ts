import {
  ORDER_STATUSES,
  type OrderCommand,
  type OrderEvent,
  orderDecider,
} from '../../src/domain/order';
import { DeciderSpecification } from '../support/deciderSpec';

const now = '2025-01-02T03:04:05.000Z';
const metadata = { now };
const orderId = 'o-1';
const spec = DeciderSpecification.for(orderDecider);

const items = [
  { sku: 'A', quantity: 2, unitPrice: 1250 },
  { sku: 'B', quantity: 1, unitPrice: 499 },
];
const shippingAddress = {
  name: 'Ada',
  line1: '1 Main St',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};
const place = (orderItems = items): OrderCommand => ({
  type: 'PlaceOrder',
  data: {
    orderId,
    customerId: 'c-1',
    paymentAccountId: 'acc-1',
    items: orderItems,
    shippingAddress,
  },
  metadata,
});
const cmd = {
  markStockReserved: { type: 'MarkStockReserved', data: { orderId }, metadata },
  markShipmentBooked: {
    type: 'MarkShipmentBooked',
    data: { orderId, shipmentId: 'sh-1' },
    metadata,
  },
  requestApproval: { type: 'RequestApproval', data: { orderId }, metadata },
  approve: { type: 'ApproveOrder', data: { orderId, approvedBy: 'boss' }, metadata },
  markPaid: { type: 'MarkPaid', data: { orderId, amount: 2999 }, metadata },
  markDispatched: { type: 'MarkDispatched', data: { orderId }, metadata },
  complete: { type: 'CompleteOrder', data: { orderId }, metadata },
  cancel: { type: 'CancelOrder', data: { orderId, reason: 'payment failed' }, metadata },
  compensationFailed: {
    type: 'MarkCompensationFailed',
    data: { orderId, reason: 'release failed' },
    metadata,
  },
} satisfies Record<string, OrderCommand>;

const ev = {
  placed: {
    type: 'OrderPlaced',
    data: {
      orderId,
      customerId: 'c-1',
      paymentAccountId: 'acc-1',
      // OrderPlaced v2: every line carries its currency.
      items: items.map((item) => ({ ...item, currency: 'EUR' })),
      total: 2999,
      shippingAddress,
      placedAt: now,
    },
  },
  stockReserved: { type: 'OrderStockReserved', data: { orderId } },
  shipmentBooked: { type: 'OrderShipmentBooked', data: { orderId, shipmentId: 'sh-1' } },
  approvalRequested: { type: 'OrderApprovalRequested', data: { orderId } },
  approved: { type: 'OrderApproved', data: { orderId, approvedBy: 'boss' } },
  paid: { type: 'OrderPaid', data: { orderId, amount: 2999 } },
  dispatched: { type: 'OrderDispatched', data: { orderId } },
  completed: { type: 'OrderCompleted', data: { orderId } },
  cancelled: { type: 'OrderCancelled', data: { orderId, reason: 'payment failed' } },
  compensationFailed: {
    type: 'OrderCompensationFailed',
    data: { orderId, reason: 'release failed' },
  },
} satisfies Record<string, OrderEvent>;

// Histories reaching each status.
const at = {
  PLACED: [ev.placed],
  STOCK_RESERVED: [ev.placed, ev.stockReserved],
  SHIPMENT_BOOKED: [ev.placed, ev.stockReserved, ev.shipmentBooked],
  AWAITING_APPROVAL: [ev.placed, ev.stockReserved, ev.shipmentBooked, ev.approvalRequested],
  APPROVED: [ev.placed, ev.stockReserved, ev.shipmentBooked, ev.approvalRequested, ev.approved],
  PAID: [ev.placed, ev.stockReserved, ev.shipmentBooked, ev.paid],
  DISPATCHED: [ev.placed, ev.stockReserved, ev.shipmentBooked, ev.paid, ev.dispatched],
  COMPLETED: [ev.placed, ev.stockReserved, ev.shipmentBooked, ev.paid, ev.dispatched, ev.completed],
  CANCELLED: [ev.placed, ev.stockReserved, ev.cancelled],
  COMPENSATION_FAILED: [ev.placed, ev.stockReserved, ev.compensationFailed],
} satisfies Record<string, OrderEvent[]>;

describe('Order decider', () => {
  it('exports its statuses and uses order-<id> streams', () => {
    expect(ORDER_STATUSES).toEqual([
      'PLACED',
      'STOCK_RESERVED',
      'SHIPMENT_BOOKED',
      'AWAITING_APPROVAL',
      'PAID',
      'DISPATCHED',
      'COMPLETED',
      'CANCELLED',
      'COMPENSATION_FAILED',
    ]);
    expect(orderDecider.streamType).toBe('order');
    expect(orderDecider.streamId(orderId)).toBe('order-o-1');
  });

  describe('PlaceOrder', () => {
    it('places with total = sum(quantity * unitPrice) and the command time', () => {
      const state = spec.when(place()).then([ev.placed]);
      expect(state).toMatchObject({ status: 'PLACED', total: 2999, approved: false });
    });
    it('is idempotent', () => {
      spec.given(at.PLACED).when(place()).thenNothing();
      spec.given(at.COMPLETED).when(place()).thenNothing();
    });
    it('rejects an empty order', () => {
      spec.when(place([])).thenRejects('EMPTY_ORDER');
    });
    it.each([0, -1, 1.5])('rejects quantity %p', (quantity) => {
      spec.when(place([{ sku: 'A', quantity, unitPrice: 100 }])).thenRejects('INVALID_QUANTITY');
    });
    it.each([0, -1, 9.99])('rejects unit price %p', (unitPrice) => {
      spec.when(place([{ sku: 'A', quantity: 1, unitPrice }])).thenRejects('INVALID_AMOUNT');
    });
    it('rejects a SKU repeated on two lines (stock is reserved once per SKU and order)', () => {
      const repeated = [
        { sku: 'A', quantity: 1, unitPrice: 100 },
        { sku: 'B', quantity: 1, unitPrice: 100 },
        { sku: 'A', quantity: 5, unitPrice: 100 },
      ];
      spec.when(place(repeated)).thenRejects('INVALID_REPEATED_SKU');
      // Also when the order already exists: a retry must not pass what a first try could not.
      spec.given(at.PLACED).when(place(repeated)).thenRejects('INVALID_REPEATED_SKU');
    });
  });

  describe('happy path', () => {
    it('walks PLACED -> ... -> COMPLETED without approval', () => {
      expect(
        spec.given(at.PLACED).when(cmd.markStockReserved).then([ev.stockReserved]).status,
      ).toBe('STOCK_RESERVED');
      spec.given(at.STOCK_RESERVED).when(cmd.markShipmentBooked).then([ev.shipmentBooked]);
      spec.given(at.SHIPMENT_BOOKED).when(cmd.markPaid).then([ev.paid]);
      spec.given(at.PAID).when(cmd.markDispatched).then([ev.dispatched]);
      const state = spec.given(at.DISPATCHED).when(cmd.complete).then([ev.completed]);
      expect(state.status).toBe('COMPLETED');
    });

    it('goes through approval when requested', () => {
      spec.given(at.SHIPMENT_BOOKED).when(cmd.requestApproval).then([ev.approvalRequested]);
      const approved = spec.given(at.AWAITING_APPROVAL).when(cmd.approve).then([ev.approved]);
      expect(approved).toMatchObject({
        status: 'AWAITING_APPROVAL',
        approved: true,
        approvedBy: 'boss',
      });
      spec.given(at.APPROVED).when(cmd.markPaid).then([ev.paid]);
    });

    it('approves without approvedBy', () => {
      spec
        .given(at.AWAITING_APPROVAL)
        .when({ type: 'ApproveOrder', data: { orderId }, metadata })
        .then([{ type: 'OrderApproved', data: { orderId } }]);
    });

    it('rejects payment while approval is pending', () => {
      spec
        .given(at.AWAITING_APPROVAL)
        .when(cmd.markPaid)
        .thenRejects('ILLEGAL_TRANSITION', { from: 'AWAITING_APPROVAL', command: 'MarkPaid' });
    });

    it('rejects an invalid or mismatching payment amount', () => {
      const paid = (amount: number): OrderCommand => ({
        type: 'MarkPaid',
        data: { orderId, amount },
        metadata,
      });
      spec.given(at.SHIPMENT_BOOKED).when(paid(0)).thenRejects('INVALID_AMOUNT');
      spec.given(at.SHIPMENT_BOOKED).when(paid(29.99)).thenRejects('INVALID_AMOUNT');
      spec
        .given(at.SHIPMENT_BOOKED)
        .when(paid(2998))
        .thenRejects('INVALID_AMOUNT', { total: 2999 });
    });

    it('rejects booking a different shipment once one is booked', () => {
      spec
        .given(at.SHIPMENT_BOOKED)
        .when({ type: 'MarkShipmentBooked', data: { orderId, shipmentId: 'sh-2' }, metadata })
        .thenRejects('ILLEGAL_TRANSITION', { shipmentId: 'sh-1' });
    });
  });

  describe('idempotent repeats', () => {
    it.each([
      [
        'markStockReserved',
        ['STOCK_RESERVED', 'SHIPMENT_BOOKED', 'PAID', 'COMPLETED', 'CANCELLED'],
      ],
      ['markShipmentBooked', ['SHIPMENT_BOOKED', 'AWAITING_APPROVAL', 'DISPATCHED']],
      ['requestApproval', ['AWAITING_APPROVAL', 'APPROVED']],
      ['approve', ['APPROVED']],
      ['markPaid', ['PAID', 'DISPATCHED', 'COMPLETED']],
      ['markDispatched', ['DISPATCHED', 'COMPLETED']],
      ['complete', ['COMPLETED']],
      ['cancel', ['CANCELLED']],
      ['compensationFailed', ['COMPENSATION_FAILED']],
    ] as const)('%s is a no-op at %p', (command, statuses) => {
      for (const status of statuses) spec.given(at[status]).when(cmd[command]).thenNothing();
    });
  });

  describe('cancellation and compensation failure', () => {
    it.each([
      'PLACED',
      'STOCK_RESERVED',
      'SHIPMENT_BOOKED',
      'AWAITING_APPROVAL',
      'APPROVED',
    ] as const)('cancels from %s', (status) => {
      const state = spec.given(at[status]).when(cmd.cancel).then([ev.cancelled]);
      expect(state).toMatchObject({ status: 'CANCELLED', cancelReason: 'payment failed' });
      spec.given(at[status]).when(cmd.compensationFailed).then([ev.compensationFailed]);
    });

    it('cancels from COMPENSATION_FAILED (operator retried compensation)', () => {
      spec.given(at.COMPENSATION_FAILED).when(cmd.cancel).then([ev.cancelled]);
    });

    it.each(['PAID', 'DISPATCHED', 'COMPLETED'] as const)('rejects cancel from %s', (status) => {
      spec
        .given(at[status])
        .when(cmd.cancel)
        .thenRejects('ILLEGAL_TRANSITION', { from: status, command: 'CancelOrder' });
      spec.given(at[status]).when(cmd.compensationFailed).thenRejects('ILLEGAL_TRANSITION');
    });

    it('rejects compensation failure after cancellation', () => {
      spec.given(at.CANCELLED).when(cmd.compensationFailed).thenRejects('ILLEGAL_TRANSITION');
    });
  });

  describe('illegal transitions', () => {
    it.each([
      ['markStockReserved', 'NONE'],
      ['markShipmentBooked', 'PLACED'],
      ['requestApproval', 'STOCK_RESERVED'],
      ['approve', 'SHIPMENT_BOOKED'],
      ['markPaid', 'STOCK_RESERVED'],
      ['markPaid', 'CANCELLED'],
      ['markDispatched', 'SHIPMENT_BOOKED'],
      ['complete', 'PAID'],
      ['cancel', 'NONE'],
      ['markShipmentBooked', 'CANCELLED'],
      ['requestApproval', 'COMPENSATION_FAILED'],
    ] as const)('%s from %s', (command, status) => {
      const history = status === 'NONE' ? [] : at[status];
      spec
        .given(history)
        .when(cmd[command])
        .thenRejects('ILLEGAL_TRANSITION', { from: status, command: cmd[command].type });
    });
  });
});
