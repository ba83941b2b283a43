import type { ClientBase } from 'pg';
import type { OrderEvent, OrderStatus } from '../../domain/order';
import { ORDER_EVENT_TYPES } from '../../domain/order';
import type { RecordedEvent, SqlExecutor } from '../../eventstore';
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

  async handle(db: ClientBase, recorded: RecordedEvent, table: string) {
    const event = recorded as unknown as OrderEvent;
    const position = recorded.globalPosition.toString();
    const at = recorded.createdAt.toISOString();
    if (event.type === 'OrderPlaced') {
      if (recorded.version !== 1) return;
      const { orderId, customerId, paymentAccountId, items, total, placedAt } = event.data;
      const lines = items.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice }));
      await db.query(
        `INSERT INTO ${table} (order_id, customer_id, payment_account_id, status, lines, total,
                               failure_reason, timeline, placed_at, updated_at, version, last_position)
         VALUES ($1, $2, $3, 'PLACED', $4, $5, NULL, $6, $7, $8, 1, $9)
         ON CONFLICT (order_id) DO NOTHING`,
        [
          orderId,
          customerId,
          paymentAccountId,
          JSON.stringify(lines),
          total,
          JSON.stringify([{ status: 'PLACED', at }]),
          placedAt,
          recorded.createdAt,
          position,
        ],
      );
      return;
    }
    if (recorded.version === 1) return;
    const status = ORDER_STATUS[event.type] ?? null;
    const reason =
      event.type === 'OrderCancelled' || event.type === 'OrderCompensationFailed'
        ? event.data.reason
        : null;
    await db.query(
      `UPDATE ${table}
          SET status = coalesce($3, status),
              failure_reason = coalesce($4, failure_reason),
              timeline = CASE WHEN $3::text IS NULL THEN timeline
                              ELSE timeline || jsonb_build_array(jsonb_build_object('status', $3::text, 'at', $5::text)) END,
              version = $2, updated_at = $6, last_position = $7
        WHERE order_id = $1 AND version = $2 - 1`,
      [event.data.orderId, recorded.version, status, reason, at, recorded.createdAt, position],
    );
  },
};
