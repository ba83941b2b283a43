import type { OrderEvent, OrderStatus } from '../../domain/order';
import { ORDER_EVENT_TYPES } from '../../domain/order';
import type { SqlExecutor } from '../../eventstore';
import { keyedRowHandlers, type KeyedRowModel } from '../keyedRows';
import type { Projection } from '../types';

/** Status after each event type; null keeps the current one (OrderApproved). */
const ORDER_STATUS: Record<OrderEvent['type'], OrderStatus | null> = {
  OrderPlaced: 'PLACED',
  OrderStockReserved: 'STOCK_RESERVED',
  OrderShipmentBooked: 'SHIPMENT_BOOKED',
  OrderApprovalRequested: 'AWAITING_APPROVAL',
  OrderApproved: null,
  OrderPaid: 'PAID',
  OrderDispatched: 'DISPATCHED',
  OrderCompleted: 'COMPLETED',
  OrderCancelled: 'CANCELLED',
  OrderCompensationFailed: 'COMPENSATION_FAILED',
};

interface OrderSummaryRow {
  order_id: string;
  customer_id: string;
  payment_account_id: string;
  status: OrderStatus;
  lines: Array<{ sku: string; quantity: number; unitPrice: number }>;
  total: number;
  failure_reason: string | null;
  timeline: Array<{ status: OrderStatus; at: string }>;
  placed_at: Date | string;
  updated_at: Date;
  version: number;
  last_position: number;
}

const orderSummaryRows: KeyedRowModel<OrderSummaryRow> = {
  columns: [
    ['order_id', 'text'],
    ['customer_id', 'text'],
    ['payment_account_id', 'text'],
    ['status', 'text'],
    ['lines', 'jsonb'],
    ['total', 'bigint'],
    ['failure_reason', 'text'],
    ['timeline', 'jsonb'],
    ['placed_at', 'timestamptz'],
    ['updated_at', 'timestamptz'],
    ['version', 'integer'],
    ['last_position', 'bigint'],
  ],
  keyOf: (recorded) => (recorded.data as { orderId: string }).orderId,
  fold(row, recorded) {
    const event = recorded as unknown as OrderEvent;
    const at = recorded.createdAt.toISOString();
    const stamp = {
      version: recorded.version,
      updated_at: recorded.createdAt,
      last_position: Number(recorded.globalPosition),
    };
    if (event.type === 'OrderPlaced') {
      if (row) return undefined;
      const { orderId, customerId, paymentAccountId, items, total, placedAt } = event.data;
      return {
        order_id: orderId,
        customer_id: customerId,
        payment_account_id: paymentAccountId,
        status: 'PLACED',
        lines: items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
        total,
        failure_reason: null,
        timeline: [{ status: 'PLACED', at }],
        placed_at: placedAt,
        ...stamp,
      };
    }
    if (!row) return undefined;
    const status = ORDER_STATUS[event.type] ?? null;
    const reason =
      event.type === 'OrderCancelled' || event.type === 'OrderCompensationFailed'
        ? event.data.reason
        : null;
    return {
      ...row,
      status: status ?? row.status,
      failure_reason: reason ?? row.failure_reason,
      timeline: status === null ? row.timeline : [...row.timeline, { status, at }],
      ...stamp,
    };
  },
};

/**
 * One row per order (stream `order-<id>`): status, lines, total, timeline. The shipping
 * address is personal data and deliberately not copied here.
 */
export const orderSummaryProjection: Projection = {
  name: 'order_summary',
  version: 1,
  eventTypes: ORDER_EVENT_TYPES,
  streamRows: { column: 'order_id', streamPrefix: 'order-' },

  async createTables(db: SqlExecutor, table: string) {
    await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
      order_id           text        PRIMARY KEY,
      customer_id        text        NOT NULL,
      payment_account_id text        NOT NULL,
      status             text        NOT NULL,
      lines              jsonb       NOT NULL,
      total              bigint      NOT NULL,
      failure_reason     text,
      timeline           jsonb       NOT NULL,
      placed_at          timestamptz NOT NULL,
      updated_at         timestamptz NOT NULL,
      version            integer     NOT NULL,
      last_position      bigint      NOT NULL
    )`);
    await db.query(
      `CREATE INDEX IF NOT EXISTS ${table}_customer_idx ON ${table} (customer_id, placed_at DESC, order_id DESC)`,
    );
    await db.query(
      `CREATE INDEX IF NOT EXISTS ${table}_status_idx ON ${table} (status, placed_at DESC, order_id DESC)`,
    );
    await db.query(
      `CREATE INDEX IF NOT EXISTS ${table}_placed_idx ON ${table} (placed_at DESC, order_id DESC)`,
    );
  },

  ...keyedRowHandlers(orderSummaryRows),
};
