import type { Pool, PoolClient } from 'pg';
import { pointsFor } from './points';

/**
 * The loyalty read model. Each effect runs inside the inbox transaction (applyOnce), and
 * effects commute: a refund that arrives before its order's completion (another subject,
 * so no order between them) is recorded, and the completion then earns nothing.
 */

/** order.completed.v1: the order earns its points, unless it was refunded already. */
export async function earn(
  tx: PoolClient,
  order: { orderId: string; customerId: string; total: number; completedAt: string },
): Promise<number> {
  const points = pointsFor(order.total);
  const row = await tx.query<{ earned: number }>(
    `INSERT INTO loyalty.order_points (order_id, customer_id, points, completed_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (order_id) DO UPDATE
       SET customer_id = EXCLUDED.customer_id, completed_at = EXCLUDED.completed_at,
           points = CASE WHEN loyalty.order_points.refunded_at IS NULL THEN EXCLUDED.points ELSE 0 END
     WHERE loyalty.order_points.completed_at IS NULL
     RETURNING points AS earned`,
    [order.orderId, order.customerId, points, order.completedAt],
  );
  const earned = row.rows[0]?.earned ?? 0;
  await addToCustomer(tx, order.customerId, earned);
  return earned;
}

/** payment.refunded.v1: the order's points are taken back (none yet: it will earn none). */
export async function takeBack(
  tx: PoolClient,
  refund: { orderId: string; refundedAt: string },
): Promise<number> {
  const before = await tx.query<{ customer_id: string | null; points: number }>(
    'SELECT customer_id, points FROM loyalty.order_points WHERE order_id = $1 FOR UPDATE',
    [refund.orderId],
  );
  await tx.query(
    `INSERT INTO loyalty.order_points (order_id, points, refunded_at) VALUES ($1, 0, $2)
     ON CONFLICT (order_id) DO UPDATE SET points = 0, refunded_at = EXCLUDED.refunded_at`,
    [refund.orderId, refund.refundedAt],
  );
  const order = before.rows[0];
  if (!order?.customer_id || order.points === 0) return 0;
  await addToCustomer(tx, order.customer_id, -order.points);
  return order.points;
}

async function addToCustomer(tx: PoolClient, customerId: string, delta: number): Promise<void> {
  if (delta === 0) return;
  // Taking back only ever follows earning, so the row is there (an insert of a negative
  // balance would break the CHECK before ON CONFLICT is looked at).
  if (delta < 0) {
    await tx.query(
      'UPDATE loyalty.customer_points SET points = points + $2, updated_at = now() WHERE customer_id = $1',
      [customerId, delta],
    );
    return;
  }
  await tx.query(
    `INSERT INTO loyalty.customer_points (customer_id, points) VALUES ($1, $2)
     ON CONFLICT (customer_id) DO UPDATE
       SET points = loyalty.customer_points.points + EXCLUDED.points, updated_at = now()`,
    [customerId, delta],
  );
}

export interface CustomerPoints {
  customerId: string;
  points: number;
  orders: Array<{ orderId: string; points: number; refunded: boolean }>;
}

export async function customerPoints(pool: Pool, customerId: string): Promise<CustomerPoints> {
  const [total, orders] = await Promise.all([
    pool.query<{ points: number }>(
      'SELECT points FROM loyalty.customer_points WHERE customer_id = $1',
      [customerId],
    ),
    pool.query<{ order_id: string; points: number; refunded: boolean }>(
      `SELECT order_id, points, refunded_at IS NOT NULL AS refunded
       FROM loyalty.order_points WHERE customer_id = $1 ORDER BY completed_at, order_id`,
      [customerId],
    ),
  ]);
  return {
    customerId,
    points: total.rows[0]?.points ?? 0,
    orders: orders.rows.map((r) => ({
      orderId: r.order_id,
      points: r.points,
      refunded: r.refunded,
    })),
  };
}
