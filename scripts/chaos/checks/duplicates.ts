/** No effect happened twice: per step, per money movement, per reservation. */
import { countOf, sample, type Invariant } from './types';

export const noDuplicateEventsPerStep: Invariant = {
  name: 'no duplicate events per step (stream + command_id)',
  async check({ pool }) {
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
    return {
      ok: dupByCommand.length === 0 && splitCommands.length === 0,
      detail: `${dupByCommand.length} duplicated, ${splitCommands.length} split${sample([...dupByCommand, ...splitCommands])}`,
      figures: {
        events: await countOf(pool, 'SELECT count(*) AS n FROM events'),
        'release tombstones (quantity 0)': await countOf(
          pool,
          "SELECT count(*) AS n FROM events WHERE event_type = 'ReservationReleased' AND (data->>'quantity')::int = 0",
        ),
        'debits voided before they happened': await countOf(
          pool,
          "SELECT count(*) AS n FROM events WHERE event_type = 'DebitVoided'",
        ),
        'duplicate events per (stream, command_id, type)': dupByCommand.length,
        'commands appended in >1 transaction': splitCommands.length,
      },
    };
  },
};

export const oneMovementPerReference: Invariant = {
  name: 'at most one debit/credit per (account, reference)',
  async check({ pool }) {
    const dupMoney = (
      await pool.query<{ stream_id: string; event_type: string; ref: string; n: string }>(
        `SELECT stream_id, event_type, data->>'reference' AS ref, count(*) AS n FROM events
          WHERE event_type IN ('AccountDebited', 'AccountCredited', 'FundsDeposited') GROUP BY 1, 2, 3 HAVING count(*) > 1`,
      )
    ).rows;
    return {
      ok: dupMoney.length === 0,
      detail: `${dupMoney.length}${sample(dupMoney)}`,
      figures: { 'duplicate money movements per (account, reference)': dupMoney.length },
    };
  },
};

export const oneReservationPerOrderSku: Invariant = {
  name: 'at most one StockReserved/Committed/Released per (sku, order), and no order repeats a SKU',
  async check({ pool }) {
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
    return {
      ok: dupStock.length === 0 && dupReleases.length === 0 && repeatedSkus.length === 0,
      detail: `${dupStock.length + dupReleases.length} duplicated, ${repeatedSkus.length} orders repeating a SKU${sample([...dupStock, ...dupReleases, ...repeatedSkus])}`,
      figures: {
        'duplicate reservations/commits per (sku, order)': dupStock.length + dupReleases.length,
        'orders repeating a SKU on two lines': repeatedSkus.length,
      },
    };
  },
};
