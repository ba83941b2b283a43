import { Client, type Pool } from 'pg';
import { loadConfig } from '../src/config';
import { createPool, migrate } from '../src/eventstore';
import { createLogger } from '../src/logger';
import { orderSummaryProjection, rebuildProjection } from '../src/projections';
import { createSystem } from '../src/system/createSystem';
import { compare, type BenchContext, type BenchEntry } from './support/suite';

/** Every order goes the same way: placed, stock reserved, shipment booked, paid, completed. */
const ORDER_FLOW = [
  ['OrderPlaced', null],
  ['OrderStockReserved', 'STOCK_RESERVED'],
  ['OrderShipmentBooked', 'SHIPMENT_BOOKED'],
  ['OrderPaid', 'PAID'],
  ['OrderCompleted', 'COMPLETED'],
] as const;
const BATCH = 1000;

/** Seeds valid order streams (OrderPlaced v2 and the rest of ORDER_FLOW) in bulk INSERTs. */
async function seedOrders(pool: Pool, events: number): Promise<void> {
  const orders = Math.ceil(events / ORDER_FLOW.length);
  const types = ORDER_FLOW.map(([type]) => type);
  for (let from = 1; from <= orders; from += 10_000) {
    await pool.query(
      `INSERT INTO events (stream_id, stream_type, version, event_id, event_type, schema_version, data)
       SELECT 'order-o' || o, 'order', v, gen_random_uuid(), ($4::text[])[v], CASE WHEN v = 1 THEN 2 ELSE 1 END,
              CASE WHEN v = 1 THEN jsonb_build_object(
                     'orderId', 'o' || o, 'customerId', 'c' || (o % 100), 'paymentAccountId', 'a' || o,
                     'items', jsonb_build_array(jsonb_build_object('sku', 's' || (o % 50), 'quantity', 2,
                                                                   'unitPrice', 150, 'currency', 'EUR')),
                     'total', 300,
                     'shippingAddress', jsonb_build_object('name', 'n', 'line1', 'l', 'city', 'c',
                                                           'postalCode', 'p', 'country', 'DE'),
                     'placedAt', '2024-01-01T00:00:00.000Z')
                   WHEN v = 3 THEN jsonb_build_object('orderId', 'o' || o, 'shipmentId', 'sh' || o)
                   WHEN v = 4 THEN jsonb_build_object('orderId', 'o' || o, 'amount', 300)
                   ELSE jsonb_build_object('orderId', 'o' || o) END
         FROM generate_series($1::int, $2::int) AS o, generate_series(1, $3::int) AS v
        ORDER BY o, v`,
      [from, Math.min(orders, from + 9_999), ORDER_FLOW.length, types],
    );
  }
  await pool.query('ANALYZE events');
}

interface EventRow {
  global_position: string;
  version: number;
  event_type: string;
  /** OrderPlaced's fields are there on OrderPlaced only. */
  data: {
    orderId: string;
    customerId?: string;
    paymentAccountId?: string;
    items?: Array<{ sku: string; quantity: number; unitPrice: number }>;
    total?: number;
    placedAt?: string;
  };
  created_at: Date;
}

interface BareRow {
  order_id: string;
  customer_id: string;
  payment_account_id: string;
  status: string;
  lines: unknown;
  total: number;
  timeline: Array<{ status: string; at: string }>;
  placed_at: Date | string;
  updated_at: Date;
  version: number;
  last_position: string;
}

const STATUS = new Map<string, string | null>(ORDER_FLOW);

/** Folds one event into a row: OrderPlaced opens it, the others follow ORDER_FLOW. */
function foldBare(row: BareRow | undefined, event: EventRow): BareRow | undefined {
  if (event.version !== (row?.version ?? 0) + 1) return row;
  const at = event.created_at.toISOString();
  const stamp = {
    version: event.version,
    updated_at: event.created_at,
    last_position: event.global_position,
  };
  if (event.event_type === 'OrderPlaced') {
    const { orderId, customerId, paymentAccountId, items, total, placedAt } = event.data;
    return {
      order_id: orderId,
      customer_id: customerId!,
      payment_account_id: paymentAccountId!,
      status: 'PLACED',
      lines: items!.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPrice })),
      total: total!,
      timeline: [{ status: 'PLACED', at }],
      placed_at: placedAt!,
      ...stamp,
    };
  }
  const status = STATUS.get(event.event_type)!;
  return { ...row!, status, timeline: [...row!.timeline, { status, at }], ...stamp };
}

/**
 * The floor: the same safe-order read, then per batch the rows of its orders read, the
 * events folded in memory and one multi-row upsert, in one transaction, with plain pg (no
 * checkpoint, no upcasting or schema checks, no ownership, no generations).
 */
async function bareRebuild(url: string, table: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let after = '0';
  let applied = 0;
  try {
    for (;;) {
      const { rows } = await client.query<EventRow>(
        `WITH checkpoint AS (
           SELECT coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8) AS tx
         )
         SELECT global_position, version, event_type, data, created_at
           FROM events, checkpoint
          WHERE (transaction_id, global_position) > (checkpoint.tx, $1::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND event_type = ANY($3)
          ORDER BY transaction_id, global_position
          LIMIT $2`,
        [after, BATCH, orderSummaryProjection.eventTypes],
      );
      if (rows.length === 0) return applied;
      await client.query('BEGIN');
      const ids = [...new Set(rows.map((row) => row.data.orderId))];
      const current = await client.query<BareRow>(
        `SELECT * FROM ${table} WHERE order_id = ANY($1) FOR UPDATE`,
        [ids],
      );
      const byId = new Map(current.rows.map((row) => [row.order_id, row]));
      for (const row of rows)
        byId.set(row.data.orderId, foldBare(byId.get(row.data.orderId), row)!);
      const folded = [...byId.values()];
      const column = <K extends keyof BareRow>(name: K, json = false) =>
        folded.map((row) => (json ? JSON.stringify(row[name]) : row[name]));
      await client.query(
        `INSERT INTO ${table} (order_id, customer_id, payment_account_id, status, lines, total,
                               failure_reason, timeline, placed_at, updated_at, version, last_position)
         SELECT o, c, p, s, l, t, NULL, tl, pa, u, v, lp
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[],
                       $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::integer[], $11::bigint[])
                AS x(o, c, p, s, l, t, tl, pa, u, v, lp)
         ON CONFLICT (order_id) DO UPDATE
            SET status = excluded.status, timeline = excluded.timeline,
                updated_at = excluded.updated_at, version = excluded.version,
                last_position = excluded.last_position`,
        [
          column('order_id'),
          column('customer_id'),
          column('payment_account_id'),
          column('status'),
          column('lines', true),
          column('total'),
          column('timeline', true),
          column('placed_at'),
          column('updated_at'),
          column('version'),
          column('last_position'),
        ],
      );
      await client.query('COMMIT');
      applied += rows.length;
      after = rows[rows.length - 1]!.global_position;
    }
  } finally {
    await client.end();
  }
}

/** `rebuildProjection` as `npm run projections -- rebuild order_summary` runs it. */
async function oursRebuild(url: string): Promise<number> {
  const system = createSystem(
    { ...loadConfig({ LOG_LEVEL: 'silent' }), DATABASE_URL: url },
    {
      applicationName: 'bench-projection-rebuild',
      logger: createLogger('silent', 'bench-projection-rebuild'),
      poolMax: 4,
      inlineProjection: false,
    },
  );
  try {
    const result = await rebuildProjection(system, 'order_summary', undefined, {
      batchSize: BATCH,
    });
    return result.events;
  } finally {
    await system.close();
  }
}

/** A rebuild of order_summary vs the bare batched loop, over the same seeded log. */
export async function orderSummaryRebuildEntry(context: BenchContext): Promise<BenchEntry> {
  const events = context.scaled(200_000, 1_000);
  const { url } = await context.databases.create('projection_rebuild');
  await migrate(url);
  const pool = createPool(url, { max: 2, applicationName: 'bench-projection-rebuild-bare' });
  try {
    context.log(`seeding ${events} order events`);
    await seedOrders(pool, events);
    await pool.query('CREATE TABLE bare_order_summary (LIKE order_summary_g1 INCLUDING ALL)');
    await pool.query('SELECT count(*) FROM events'); // warm the cache for both

    context.log('bare batched rebuild');
    let started = performance.now();
    const bareApplied = await bareRebuild(url, 'bare_order_summary');
    const bareSeconds = (performance.now() - started) / 1000;

    context.log('rebuildProjection(order_summary)');
    started = performance.now();
    const oursApplied = await oursRebuild(url);
    const oursSeconds = (performance.now() - started) / 1000;
    if (oursApplied !== bareApplied) throw new Error(`ours ${oursApplied}, bare ${bareApplied}`);

    const diff = await pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM (
         (SELECT * FROM order_summary EXCEPT SELECT * FROM bare_order_summary)
         UNION ALL
         (SELECT * FROM bare_order_summary EXCEPT SELECT * FROM order_summary)) d`,
    );
    if (diff.rows[0]!.n !== '0') throw new Error(`read models differ in ${diff.rows[0]!.n} rows`);
    context.log(
      `rebuild ${Math.round(oursApplied / oursSeconds)} events/s (${oursSeconds.toFixed(2)} s), bare ${Math.round(bareApplied / bareSeconds)} events/s (${bareSeconds.toFixed(2)} s)`,
    );
    return compare(
      { rate: oursApplied / oursSeconds },
      { rate: bareApplied / bareSeconds },
      'events/s',
      { goal: 0.8, events: oursApplied, batchSize: BATCH, projection: 'order_summary' },
    );
  } finally {
    await pool.end();
  }
}
