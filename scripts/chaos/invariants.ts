import type { Pool } from 'pg';
import { accountDecider, type AccountEvent } from '../../src/domain/account';
import { inventoryDecider, type InventoryEvent } from '../../src/domain/inventory';
import { loadAggregate, type PostgresEventStore } from '../../src/eventstore';
import { ALL_PROJECTIONS, rebuildProjection } from '../../src/projections';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** One saga the harness started, with the terminal state Temporal reported. */
export interface SagaRecord {
  kind: 'order' | 'transfer';
  key: string;
  id: string;
  sagaId: string;
  /** Order total or transfer amount. */
  amount: number;
  lines?: Array<{ sku: string; quantity: number }>;
  big?: boolean;
  finalStatus?: string;
  finalReason?: string | null;
}

export interface InvariantInput {
  pool: Pool;
  store: PostgresEventStore;
  sagas: SagaRecord[];
  depositsSent: number;
  restockedSent: Record<string, number>;
  distinctKeys: number;
  temporalWorkflowCount: number;
  merchantAccountId: string;
}

export interface InvariantResult {
  figures: Record<string, number | string>;
  checks: Check[];
}

const ORDER_TERMINAL = new Set(['COMPLETED', 'CANCELLED', 'COMPENSATION_FAILED']);
const TRANSFER_TERMINAL = new Set(['COMPLETED', 'FAILED', 'COMPENSATED', 'COMPENSATION_FAILED']);
export const isTerminal = (kind: SagaRecord['kind'], status: string | undefined) =>
  status !== undefined && (kind === 'order' ? ORDER_TERMINAL : TRANSFER_TERMINAL).has(status);

const sample = (items: unknown[], n = 5) =>
  items.length === 0
    ? ''
    : ` e.g. ${items
        .slice(0, n)
        .map((i) => JSON.stringify(i))
        .join('; ')}`;

export async function checkInvariants(input: InvariantInput): Promise<InvariantResult> {
  const { pool, store, sagas } = input;
  const figures: Record<string, number | string> = {};
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  // --- 1. Every saga terminal, none parked --------------------------------------------
  const byStatus: Record<string, number> = {};
  for (const s of sagas) {
    const key = `${s.kind}:${s.finalStatus ?? 'UNKNOWN'}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  for (const [k, v] of Object.entries(byStatus).sort()) figures[`sagas ${k}`] = v;
  const nonTerminal = sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
  const parked = sagas.filter((s) => s.finalStatus === 'COMPENSATION_FAILED');
  figures['sagas started'] = sagas.length;
  figures['sagas not terminal'] = nonTerminal.length;
  figures['sagas COMPENSATION_FAILED'] = parked.length;
  check(
    'every saga terminal',
    nonTerminal.length === 0,
    `${nonTerminal.length} not terminal${sample(nonTerminal.map((s) => [s.sagaId, s.finalStatus]))}`,
  );
  check(
    'no COMPENSATION_FAILED',
    parked.length === 0,
    `${parked.length} parked${sample(parked.map((s) => s.sagaId))}`,
  );

  // --- 2. Saga count = distinct Idempotency-Keys --------------------------------------
  const rmCounts = await pool.query<{ orders: string; transfers: string }>(
    'SELECT (SELECT count(*) FROM order_summary) AS orders, (SELECT count(*) FROM transfer_summary) AS transfers',
  );
  const rmOrders = Number(rmCounts.rows[0]!.orders);
  const rmTransfers = Number(rmCounts.rows[0]!.transfers);
  figures['distinct idempotency keys sent'] = input.distinctKeys;
  figures['workflows in Temporal'] = input.temporalWorkflowCount;
  figures['orders + transfers in read models'] = rmOrders + rmTransfers;
  check(
    'sagas = distinct keys',
    input.distinctKeys === sagas.length &&
      input.temporalWorkflowCount === input.distinctKeys &&
      rmOrders + rmTransfers === input.distinctKeys,
    `keys ${input.distinctKeys}, recorded sagas ${sagas.length}, Temporal ${input.temporalWorkflowCount}, read models ${rmOrders}+${rmTransfers}`,
  );

  // --- 3. Read-model statuses agree with Temporal -------------------------------------
  const rmStatus = new Map<string, string>();
  for (const row of (
    await pool.query<{ id: string; status: string }>(
      'SELECT order_id AS id, status FROM order_summary UNION ALL SELECT transfer_id, status FROM transfer_summary',
    )
  ).rows)
    rmStatus.set(row.id, row.status);
  const statusMismatch = sagas.filter((s) => rmStatus.get(s.id) !== s.finalStatus);
  check(
    'read-model status = saga status',
    statusMismatch.length === 0,
    `${statusMismatch.length} differ${sample(statusMismatch.map((s) => [s.id, s.finalStatus, rmStatus.get(s.id)]))}`,
  );

  // --- 4. Money conservation -----------------------------------------------------------
  const accountStreams = (
    await pool.query<{ stream_id: string }>(
      "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'account' ORDER BY stream_id",
    )
  ).rows.map((r) => r.stream_id);
  let replayTotal = 0;
  let depositedInEvents = 0;
  const chainErrors: string[] = [];
  const replayBalances = new Map<string, number>();
  for (const streamId of accountStreams) {
    const events = await store.readStream(streamId);
    let state = accountDecider.initialState();
    let balance = 0;
    for (const event of events) {
      state = accountDecider.evolve(state, { type: event.type, data: event.data } as AccountEvent);
      if (['FundsDeposited', 'AccountCredited', 'AccountDebited'].includes(event.type)) {
        const data = event.data as { amount: number; balanceAfter: number };
        const sign = event.type === 'AccountDebited' ? -1 : 1;
        if (data.balanceAfter !== balance + sign * data.amount || data.balanceAfter < 0)
          chainErrors.push(`${streamId} v${event.version} ${event.type}`);
        balance = data.balanceAfter;
        if (event.type === 'FundsDeposited') depositedInEvents += data.amount;
      }
    }
    const folded = state.status === 'NONE' ? 0 : state.balance;
    // The decider's fold from a snapshot must agree with the full fold.
    const loaded = await loadAggregate(store, streamId, accountDecider);
    const viaLoader = loaded.state.status === 'NONE' ? 0 : loaded.state.balance;
    if (viaLoader !== folded)
      chainErrors.push(`${streamId}: snapshot+tail ${viaLoader} != full fold ${folded}`);
    replayBalances.set(streamId.replace(/^account-/, ''), folded);
    replayTotal += folded;
  }
  const rm = (
    await pool.query<{ total: string | null; n: string; negative: string }>(
      'SELECT sum(balance) AS total, count(*) AS n, count(*) FILTER (WHERE balance < 0) AS negative FROM account_balance',
    )
  ).rows[0]!;
  const rmTotal = Number(rm.total ?? 0);
  const rmRows = await pool.query<{ account_id: string; balance: string }>(
    'SELECT account_id, balance FROM account_balance',
  );
  const balanceMismatch = rmRows.rows.filter(
    (r) => replayBalances.get(r.account_id) !== Number(r.balance),
  );
  figures['accounts'] = accountStreams.length;
  figures['deposits sent'] = input.depositsSent;
  figures['deposits in events'] = depositedInEvents;
  figures['sum of balances (read model)'] = rmTotal;
  figures['sum of balances (replayed events)'] = replayTotal;
  figures['merchant balance (replayed)'] = replayBalances.get(input.merchantAccountId) ?? 0;
  check(
    'money conserved',
    rmTotal === input.depositsSent &&
      replayTotal === input.depositsSent &&
      depositedInEvents === input.depositsSent,
    `deposits ${input.depositsSent} / in events ${depositedInEvents}; balances: read model ${rmTotal}, replay ${replayTotal}`,
  );
  check(
    'account balance chains valid, never negative',
    chainErrors.length === 0 && Number(rm.negative) === 0,
    `${chainErrors.length} bad links, ${rm.negative} negative read-model rows${sample(chainErrors)}`,
  );
  check(
    'account read model = replay per account',
    balanceMismatch.length === 0 && rmRows.rows.length === accountStreams.length,
    `${balanceMismatch.length} differ, ${rmRows.rows.length} rows vs ${accountStreams.length} streams${sample(balanceMismatch)}`,
  );

  // --- 5. Money per saga: each saga moved exactly what its outcome says -----------------
  const movements = new Map<string, number>(); // `${reference}|${type}` -> summed amount
  const movementCount = new Map<string, number>();
  for (const row of (
    await pool.query<{ event_type: string; ref: string; amount: string }>(
      "SELECT event_type, data->>'reference' AS ref, (data->>'amount')::bigint AS amount FROM events WHERE event_type IN ('AccountDebited','AccountCredited')",
    )
  ).rows) {
    const key = `${row.ref}|${row.event_type}`;
    movements.set(key, (movements.get(key) ?? 0) + Number(row.amount));
    movementCount.set(key, (movementCount.get(key) ?? 0) + 1);
  }
  const moved = (ref: string, type: 'AccountDebited' | 'AccountCredited') =>
    movements.get(`${ref}|${type}`) ?? 0;
  const moneyErrors: unknown[] = [];
  for (const s of sagas) {
    if (s.kind === 'order') {
      const p = `order-${s.id}`;
      const paid = moved(`${p}/payment`, 'AccountDebited');
      const refunded = moved(`${p}/refund`, 'AccountCredited');
      const revenue = moved(`${p}/revenue`, 'AccountCredited');
      const ok =
        s.finalStatus === 'COMPLETED'
          ? paid === s.amount && refunded === 0 && revenue === s.amount
          : s.finalStatus === 'CANCELLED'
            ? paid === refunded && revenue === 0
            : true;
      if (!ok)
        moneyErrors.push({
          saga: s.sagaId,
          status: s.finalStatus,
          total: s.amount,
          paid,
          refunded,
          revenue,
        });
    } else {
      const p = `transfer-${s.id}`;
      const debited = moved(`${p}/debit`, 'AccountDebited');
      const refunded = moved(`${p}/refund`, 'AccountCredited');
      const credited = moved(`${p}/credit`, 'AccountCredited');
      const ok =
        s.finalStatus === 'COMPLETED'
          ? debited === s.amount && credited === s.amount && refunded === 0
          : s.finalStatus === 'FAILED' || s.finalStatus === 'COMPENSATED'
            ? debited === refunded && credited === 0
            : true;
      if (!ok)
        moneyErrors.push({
          saga: s.sagaId,
          status: s.finalStatus,
          amount: s.amount,
          debited,
          refunded,
          credited,
        });
    }
  }
  check(
    "each saga moved exactly its outcome's money",
    moneyErrors.length === 0,
    `${moneyErrors.length} sagas off${sample(moneyErrors)}`,
  );

  // --- 6. Stock -------------------------------------------------------------------------
  const skuStreams = (
    await pool.query<{ stream_id: string }>(
      "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'inventory' ORDER BY stream_id",
    )
  ).rows.map((r) => r.stream_id);
  const stockErrors: string[] = [];
  const perOrder = new Map<string, { reserved: number; released: number; committed: number }>();
  const replayStock = new Map<
    string,
    { available: number; reserved: number; committed: number; received: number }
  >();
  let totalReceived = 0;
  let totalCommitted = 0;
  for (const streamId of skuStreams) {
    const events = await store.readStream(streamId);
    let state = inventoryDecider.initialState();
    for (const event of events) {
      state = inventoryDecider.evolve(state, {
        type: event.type,
        data: event.data,
      } as InventoryEvent);
      const { available, reserved, committed, received } = state;
      if (
        available < 0 ||
        reserved < 0 ||
        committed < 0 ||
        available + reserved + committed !== received
      )
        stockErrors.push(
          `${streamId} v${event.version} ${event.type}: ${JSON.stringify({ available, reserved, committed, received })}`,
        );
      if (['StockReserved', 'ReservationReleased', 'ReservationCommitted'].includes(event.type)) {
        const data = event.data as { sku: string; orderId: string; quantity: number };
        const key = `${data.orderId}|${data.sku}`;
        const entry = perOrder.get(key) ?? { reserved: 0, released: 0, committed: 0 };
        if (event.type === 'StockReserved') entry.reserved += data.quantity;
        if (event.type === 'ReservationReleased') entry.released += data.quantity;
        if (event.type === 'ReservationCommitted') entry.committed += data.quantity;
        perOrder.set(key, entry);
      }
    }
    const sku = streamId.replace(/^inventory-/, '');
    replayStock.set(sku, {
      available: state.available,
      reserved: state.reserved,
      committed: state.committed,
      received: state.received,
    });
    totalReceived += state.received;
    totalCommitted += state.committed;
    if (state.reserved !== 0)
      stockErrors.push(`${streamId}: ${state.reserved} still reserved after every saga ended`);
    if (state.received !== (input.restockedSent[sku] ?? 0))
      stockErrors.push(
        `${streamId}: received ${state.received} != restocked ${input.restockedSent[sku] ?? 0}`,
      );
  }
  const invRows = (
    await pool.query<{
      sku: string;
      available: string;
      reserved: string;
      committed: string;
      received: string;
    }>('SELECT sku, available, reserved, committed, received FROM inventory_level ORDER BY sku')
  ).rows;
  for (const row of invRows) {
    const [a, r, c, rec] = [row.available, row.reserved, row.committed, row.received].map(
      Number,
    ) as [number, number, number, number];
    if (a < 0 || r < 0 || c < 0 || a + r + c !== rec)
      stockErrors.push(`read model ${row.sku}: ${JSON.stringify(row)}`);
    const replay = replayStock.get(row.sku);
    if (
      !replay ||
      replay.available !== a ||
      replay.reserved !== r ||
      replay.committed !== c ||
      replay.received !== rec
    )
      stockErrors.push(`read model ${row.sku} != replay ${JSON.stringify(replay)}`);
  }
  figures['skus'] = skuStreams.length;
  figures['stock received'] = totalReceived;
  figures['stock committed'] = totalCommitted;
  check(
    'stock: available+reserved+committed=received, none negative, read model = replay',
    stockErrors.length === 0 && invRows.length === skuStreams.length,
    `${stockErrors.length} problems${sample(stockErrors)}`,
  );

  const orderStockErrors: unknown[] = [];
  let completedAndReleased = 0;
  for (const s of sagas) {
    if (s.kind !== 'order') continue;
    // Stock events are per (order, SKU): compare them with the order's whole quantity of
    // that SKU, whichever lines it is on (never assume one line per SKU).
    for (const [sku, quantity] of quantityPerSku(s.lines ?? [])) {
      const e = perOrder.get(`${s.id}|${sku}`) ?? { reserved: 0, released: 0, committed: 0 };
      if (s.finalStatus === 'COMPLETED') {
        if (e.released > 0) completedAndReleased += 1;
        if (e.released > 0 || e.committed !== quantity || e.reserved !== quantity)
          orderStockErrors.push({ order: s.id, status: s.finalStatus, sku, quantity, ...e });
      } else if (s.finalStatus === 'CANCELLED') {
        if (e.committed > 0 || e.reserved !== e.released)
          orderStockErrors.push({ order: s.id, status: s.finalStatus, sku, quantity, ...e });
      }
    }
  }
  figures['orders completed with stock released'] = completedAndReleased;
  check(
    'order stock matches outcome (completed: committed, never released; cancelled: all released)',
    orderStockErrors.length === 0,
    `${orderStockErrors.length} lines off${sample(orderStockErrors)}`,
  );

  // --- 7. No duplicate effects -----------------------------------------------------------
  const dupByCommand = (
    await pool.query<{ stream_id: string; command_id: string; event_type: string; n: string }>(
      `SELECT stream_id, metadata->>'command_id' AS command_id, event_type, count(*) AS n FROM events
        WHERE metadata ? 'command_id' GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    )
  ).rows;
  const splitCommands = (
    await pool.query<{ stream_id: string; command_id: string; n: string }>(
      `SELECT stream_id, metadata->>'command_id' AS command_id, count(DISTINCT transaction_id) AS n FROM events
        WHERE metadata ? 'command_id' GROUP BY 1, 2 HAVING count(DISTINCT transaction_id) > 1`,
    )
  ).rows;
  const dupMoney = (
    await pool.query<{ stream_id: string; event_type: string; ref: string; n: string }>(
      `SELECT stream_id, event_type, data->>'reference' AS ref, count(*) AS n FROM events
        WHERE event_type IN ('AccountDebited', 'AccountCredited', 'FundsDeposited') GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    )
  ).rows;
  const dupStock = (
    await pool.query<{ stream_id: string; event_type: string; order_id: string; n: string }>(
      `SELECT stream_id, event_type, data->>'orderId' AS order_id, count(*) AS n FROM events
        WHERE event_type IN ('StockReserved', 'ReservationCommitted') GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    )
  ).rows;
  const dupReleases = (
    await pool.query<{ stream_id: string; order_id: string; n: string }>(
      `SELECT stream_id, data->>'orderId' AS order_id, count(*) AS n FROM events
        WHERE event_type = 'ReservationReleased' AND (data->>'quantity')::int > 0 GROUP BY 1, 2 HAVING count(*) > 1`,
    )
  ).rows;
  // One reservation per (SKU, order) is the inventory's rule; it covers every line only
  // because PlaceOrder refuses a SKU on two lines. An order that repeats one anyway would be
  // charged for a line never reserved: it is a violation of its own.
  const repeatedSkus = (
    await pool.query<{ stream_id: string; sku: string; n: string }>(
      `SELECT stream_id, item->>'sku' AS sku, count(*) AS n
         FROM events, jsonb_array_elements(data->'items') AS item
        WHERE event_type = 'OrderPlaced' GROUP BY 1, 2 HAVING count(*) > 1`,
    )
  ).rows;
  const totalEvents = Number(
    (await pool.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n,
  );
  const tombstones = Number(
    (
      await pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM events WHERE event_type = 'ReservationReleased' AND (data->>'quantity')::int = 0",
      )
    ).rows[0]!.n,
  );
  const voids = Number(
    (
      await pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM events WHERE event_type = 'DebitVoided'",
      )
    ).rows[0]!.n,
  );
  figures['events'] = totalEvents;
  figures['release tombstones (quantity 0)'] = tombstones;
  figures['debits voided before they happened'] = voids;
  figures['duplicate events per (stream, command_id, type)'] = dupByCommand.length;
  figures['commands appended in >1 transaction'] = splitCommands.length;
  figures['duplicate money movements per (account, reference)'] = dupMoney.length;
  figures['duplicate reservations/commits per (sku, order)'] = dupStock.length + dupReleases.length;
  check(
    'no duplicate events per step (stream + command_id)',
    dupByCommand.length === 0 && splitCommands.length === 0,
    `${dupByCommand.length} duplicated, ${splitCommands.length} split${sample([...dupByCommand, ...splitCommands])}`,
  );
  check(
    'at most one debit/credit per (account, reference)',
    dupMoney.length === 0,
    `${dupMoney.length}${sample(dupMoney)}`,
  );
  figures['orders repeating a SKU on two lines'] = repeatedSkus.length;
  check(
    'at most one StockReserved/Committed/Released per (sku, order), and no order repeats a SKU',
    dupStock.length === 0 && dupReleases.length === 0 && repeatedSkus.length === 0,
    `${dupStock.length + dupReleases.length} duplicated, ${repeatedSkus.length} orders repeating a SKU${sample([...dupStock, ...dupReleases, ...repeatedSkus])}`,
  );

  // --- 8. Read models = a full rebuild, row for row -----------------------------------
  let rowsCompared = 0;
  for (const projection of ALL_PROJECTIONS) {
    const before = await snapshotRows(pool, projection.name);
    const rebuilt = await rebuildProjection(pool, projection.name);
    const after = await snapshotRows(pool, projection.name);
    rowsCompared += before.size;
    const diffs: unknown[] = [];
    for (const [id, row] of before) {
      const other = after.get(id);
      if (other === undefined) diffs.push({ id, missingAfterRebuild: true });
      else if (other !== row)
        diffs.push({ id, live: JSON.parse(row) as unknown, rebuilt: JSON.parse(other) as unknown });
    }
    for (const id of after.keys()) if (!before.has(id)) diffs.push({ id, onlyAfterRebuild: true });
    figures[`${projection.name} rows (live = rebuilt gen ${rebuilt.generation})`] =
      `${before.size} = ${after.size}`;
    check(
      `read model ${projection.name} = rebuild from events`,
      diffs.length === 0,
      `${before.size} rows, ${diffs.length} differ${sample(diffs, 3)}`,
    );
  }
  figures['read-model rows compared with rebuild'] = rowsCompared;

  return { figures, checks };
}

async function snapshotRows(pool: Pool, view: string): Promise<Map<string, string>> {
  const result = await pool.query(`SELECT * FROM ${view}`);
  const key = result.fields[0]!.name;
  const rows = new Map<string, string>();
  for (const row of result.rows as Array<Record<string, unknown>>) {
    rows.set(
      String(row[key]),
      JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    );
  }
  return rows;
}

/** An order's quantity of each SKU, summed over its lines. */
function quantityPerSku(
  lines: ReadonlyArray<{ sku: string; quantity: number }>,
): Map<string, number> {
  const perSku = new Map<string, number>();
  for (const { sku, quantity } of lines) perSku.set(sku, (perSku.get(sku) ?? 0) + quantity);
  return perSku;
}
