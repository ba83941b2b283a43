import type { AccountStatus } from '../domain/account';
import type { OrderItem, OrderStatus } from '../domain/order';
import type { TransferStatus } from '../domain/transfer';
import type { SqlExecutor } from '../eventstore';
import { orderSagaId, transferSagaId } from '../sagas/sagaIds';

/**
 * Read-model queries for the HTTP API. They read the stable views (order_summary, ...),
 * so a rebuild's switch to a new generation is invisible here.
 */

export interface OrderSummary {
  orderId: string;
  customerId: string;
  paymentAccountId: string;
  status: OrderStatus;
  lines: OrderItem[];
  total: number;
  /** orderSagaId(orderId) */
  sagaId: string;
  failureReason: string | null;
  timeline: Array<{ status: OrderStatus; at: string }>;
  placedAt: string;
  updatedAt: string;
  version: number;
  lastPosition: string;
}

export interface AccountBalance {
  accountId: string;
  ownerId: string;
  balance: number;
  status: AccountStatus;
  version: number;
  lastChangedAt: string;
  lastPosition: string;
}

export interface InventoryLevel {
  sku: string;
  available: number;
  reserved: number;
  committed: number;
  received: number;
  version: number;
  lastPosition: string;
}

export interface TransferSummary {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  status: TransferStatus;
  reason: string | null;
  /** transferSagaId(transferId) */
  sagaId: string;
  updatedAt: string;
  version: number;
  lastPosition: string;
}

export interface OrderListQuery {
  customerId?: string;
  status?: OrderStatus;
  limit: number;
  cursor?: string;
}

/** A list cursor that was not produced by listOrderSummaries. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor(message = 'invalid cursor') {
    super(message);
  }
}

interface OrderRow {
  order_id: string;
  customer_id: string;
  payment_account_id: string;
  status: OrderStatus;
  lines: OrderSummary['lines'];
  total: string;
  failure_reason: string | null;
  timeline: OrderSummary['timeline'];
  placed_at: Date;
  updated_at: Date;
  version: number;
  last_position: string;
}

const toOrderSummary = (row: OrderRow): OrderSummary => ({
  orderId: row.order_id,
  customerId: row.customer_id,
  paymentAccountId: row.payment_account_id,
  status: row.status,
  lines: row.lines,
  total: Number(row.total),
  sagaId: orderSagaId(row.order_id),
  failureReason: row.failure_reason,
  timeline: row.timeline,
  placedAt: row.placed_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  version: row.version,
  lastPosition: row.last_position,
});

const ORDER_COLUMNS =
  'order_id, customer_id, payment_account_id, status, lines, total, failure_reason, timeline, placed_at, updated_at, version, last_position';

export async function getOrderSummary(
  db: SqlExecutor,
  orderId: string,
): Promise<OrderSummary | undefined> {
  const result = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM order_summary WHERE order_id = $1`,
    [orderId],
  );
  return result.rows[0] && toOrderSummary(result.rows[0]);
}

interface OrderCursor {
  /** placed_at as microseconds since the epoch (exact, unlike a JS Date). */
  p: string;
  o: string;
}

/**
 * `<placed_at in µs>.<order id>`: the last row of a page, and every such pair is a valid
 * place to continue from, so the API can document the format (ORDER_CURSOR_PATTERN) and a
 * client that follows it is never refused.
 */
export const ORDER_CURSOR_PATTERN = '^[0-9]{1,16}\\.[^\\u0000]{1,200}$';
const CURSOR = new RegExp(ORDER_CURSOR_PATTERN, 'u');

function encodeCursor(cursor: OrderCursor): string {
  return `${cursor.p}.${cursor.o}`;
}

function decodeCursor(raw: string): OrderCursor {
  // Microseconds since 1970 within what to_timestamp accepts (until year ~2286); an order id
  // Postgres text can hold (no NUL), and short.
  if (!CURSOR.test(raw)) throw new InvalidCursorError();
  const dot = raw.indexOf('.');
  return { p: raw.slice(0, dot), o: raw.slice(dot + 1) };
}

/**
 * Newest first (placed_at DESC, order_id DESC), keyset-paginated: `nextCursor` is where the
 * next page starts (see ORDER_CURSOR_PATTERN), null on the last page.
 */
export async function listOrderSummaries(
  db: SqlExecutor,
  q: OrderListQuery,
): Promise<{ items: OrderSummary[]; nextCursor: string | null }> {
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const result = await db.query<OrderRow & { placed_us: string }>(
    `SELECT ${ORDER_COLUMNS},
            (extract(epoch FROM placed_at) * 1000000)::bigint::text AS placed_us
       FROM order_summary
      WHERE ($1::text IS NULL OR customer_id = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::bigint IS NULL
             OR (placed_at, order_id) < (to_timestamp($3::bigint / 1000000.0), $4::text))
      ORDER BY placed_at DESC, order_id DESC
      LIMIT $5`,
    [q.customerId ?? null, q.status ?? null, after?.p ?? null, after?.o ?? null, limit + 1],
  );
  const rows = result.rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toOrderSummary),
    nextCursor:
      result.rows.length > limit && last
        ? encodeCursor({ p: last.placed_us, o: last.order_id })
        : null,
  };
}

export async function getAccountBalance(
  db: SqlExecutor,
  accountId: string,
): Promise<AccountBalance | undefined> {
  const result = await db.query<{
    account_id: string;
    owner_id: string;
    balance: string;
    status: AccountStatus;
    version: number;
    last_changed_at: Date;
    last_position: string;
  }>(
    `SELECT account_id, owner_id, balance, status, version, last_changed_at, last_position
       FROM account_balance WHERE account_id = $1`,
    [accountId],
  );
  const row = result.rows[0];
  return (
    row && {
      accountId: row.account_id,
      ownerId: row.owner_id,
      balance: Number(row.balance),
      status: row.status,
      version: row.version,
      lastChangedAt: row.last_changed_at.toISOString(),
      lastPosition: row.last_position,
    }
  );
}

export async function getInventoryLevel(
  db: SqlExecutor,
  sku: string,
): Promise<InventoryLevel | undefined> {
  const result = await db.query<{
    sku: string;
    available: string;
    reserved: string;
    committed: string;
    received: string;
    version: number;
    last_position: string;
  }>(
    `SELECT sku, available, reserved, committed, received, version, last_position
       FROM inventory_level WHERE sku = $1`,
    [sku],
  );
  const row = result.rows[0];
  return (
    row && {
      sku: row.sku,
      available: Number(row.available),
      reserved: Number(row.reserved),
      committed: Number(row.committed),
      received: Number(row.received),
      version: row.version,
      lastPosition: row.last_position,
    }
  );
}

export async function getTransferSummary(
  db: SqlExecutor,
  transferId: string,
): Promise<TransferSummary | undefined> {
  const result = await db.query<{
    transfer_id: string;
    from_account_id: string;
    to_account_id: string;
    amount: string;
    status: TransferStatus;
    reason: string | null;
    updated_at: Date;
    version: number;
    last_position: string;
  }>(
    `SELECT transfer_id, from_account_id, to_account_id, amount, status, reason, updated_at, version, last_position
       FROM transfer_summary WHERE transfer_id = $1`,
    [transferId],
  );
  const row = result.rows[0];
  return (
    row && {
      transferId: row.transfer_id,
      fromAccountId: row.from_account_id,
      toAccountId: row.to_account_id,
      amount: Number(row.amount),
      status: row.status,
      reason: row.reason,
      sagaId: transferSagaId(row.transfer_id),
      updatedAt: row.updated_at.toISOString(),
      version: row.version,
      lastPosition: row.last_position,
    }
  );
}

/** Sagas by type and status, from the order and transfer read models (for metrics). */
export async function countSagasByStatus(
  db: SqlExecutor,
): Promise<Array<{ sagaType: string; status: string; count: number }>> {
  const result = await db.query<{ saga_type: string; status: string; count: string }>(
    `SELECT 'orderFulfillment' AS saga_type, status, count(*) AS count FROM order_summary GROUP BY status
     UNION ALL
     SELECT 'moneyTransfer', status, count(*) FROM transfer_summary GROUP BY status`,
  );
  return result.rows.map((row) => ({
    sagaType: row.saga_type,
    status: row.status,
    count: Number(row.count),
  }));
}
