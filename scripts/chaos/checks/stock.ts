/** Stock invariants: every SKU's counts add up, and every order's stock matches its outcome. */
import { inventoryDecider, type InventoryEvent } from '../../../src/domain/inventory';
import { sample, sharedFact, type InvariantInput, type Invariant } from './types';

interface Levels {
  available: number;
  reserved: number;
  committed: number;
  received: number;
}
type OrderStock = { reserved: number; released: number; committed: number };

/**
 * Folds one inventory stream, checking the counts after each event, and adds the stock each
 * (order, SKU) reserved, released and committed to `perOrder`.
 */
async function foldInventoryStream(
  store: InvariantInput['store'],
  streamId: string,
  perOrder: Map<string, OrderStock>,
  errors: string[],
): Promise<Levels> {
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
      errors.push(
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
  const { available, reserved, committed, received } = state;
  return { available, reserved, committed, received };
}

/** Every inventory stream folded, its end state checked against what the harness restocked. */
const stockReplay = sharedFact(async ({ pool, store, restockedSent }: InvariantInput) => {
  const streams = (
    await pool.query<{ stream_id: string }>(
      "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'inventory' ORDER BY stream_id",
    )
  ).rows.map((r) => r.stream_id);
  const errors: string[] = [];
  const perOrder = new Map<string, OrderStock>();
  const levels = new Map<string, Levels>();
  let received = 0;
  let committed = 0;
  for (const streamId of streams) {
    const state = await foldInventoryStream(store, streamId, perOrder, errors);
    const sku = streamId.replace(/^inventory-/, '');
    levels.set(sku, state);
    received += state.received;
    committed += state.committed;
    if (state.reserved !== 0)
      errors.push(`${streamId}: ${state.reserved} still reserved after every saga ended`);
    if (state.received !== (restockedSent[sku] ?? 0))
      errors.push(
        `${streamId}: received ${state.received} != restocked ${restockedSent[sku] ?? 0}`,
      );
  }
  return { streams, errors, perOrder, levels, received, committed };
});

/** Problems in the inventory_level read model: bad counts, or rows that differ from the replay. */
async function inventoryReadModelErrors(
  input: InvariantInput,
  levels: ReadonlyMap<string, Levels>,
): Promise<{ errors: string[]; rows: number }> {
  const invRows = (
    await input.pool.query<{
      sku: string;
      available: string;
      reserved: string;
      committed: string;
      received: string;
    }>('SELECT sku, available, reserved, committed, received FROM inventory_level ORDER BY sku')
  ).rows;
  const errors: string[] = [];
  for (const row of invRows) {
    const [a, r, c, rec] = [row.available, row.reserved, row.committed, row.received].map(
      Number,
    ) as [number, number, number, number];
    if (a < 0 || r < 0 || c < 0 || a + r + c !== rec)
      errors.push(`read model ${row.sku}: ${JSON.stringify(row)}`);
    const replay = levels.get(row.sku);
    if (
      !replay ||
      replay.available !== a ||
      replay.reserved !== r ||
      replay.committed !== c ||
      replay.received !== rec
    )
      errors.push(`read model ${row.sku} != replay ${JSON.stringify(replay)}`);
  }
  return { errors, rows: invRows.length };
}

export const stockAddsUp: Invariant = {
  name: 'stock: available+reserved+committed=received, none negative, read model = replay',
  async check(input) {
    const replay = await stockReplay(input);
    const readModel = await inventoryReadModelErrors(input, replay.levels);
    const stockErrors = [...replay.errors, ...readModel.errors];
    return {
      ok: stockErrors.length === 0 && readModel.rows === replay.streams.length,
      detail: `${stockErrors.length} problems${sample(stockErrors)}`,
      figures: {
        skus: replay.streams.length,
        'stock received': replay.received,
        'stock committed': replay.committed,
      },
    };
  },
};

export const orderStockMatchesOutcome: Invariant = {
  name: 'order stock matches outcome (completed: committed, never released; cancelled: all released)',
  async check(input) {
    const { perOrder } = await stockReplay(input);
    const orderStockErrors: unknown[] = [];
    let completedAndReleased = 0;
    for (const s of input.sagas) {
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
    return {
      ok: orderStockErrors.length === 0,
      detail: `${orderStockErrors.length} lines off${sample(orderStockErrors)}`,
      figures: { 'orders completed with stock released': completedAndReleased },
    };
  },
};

/** An order's quantity of each SKU, summed over its lines. */
function quantityPerSku(
  lines: ReadonlyArray<{ sku: string; quantity: number }>,
): Map<string, number> {
  const perSku = new Map<string, number>();
  for (const { sku, quantity } of lines) perSku.set(sku, (perSku.get(sku) ?? 0) + quantity);
  return perSku;
}
