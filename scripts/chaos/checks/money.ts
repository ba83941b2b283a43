/** Money invariants: conserved overall, valid per account, exact per saga. */
import { accountDecider, type AccountEvent } from '../../../src/domain/account';
import { loadAggregate } from '../../../src/eventstore';
import type { SagaRecord } from '../sagaRecord';
import { sample, sharedFact, type Invariant } from './types';

/** Every account stream folded from its events, with the balance chain checked link by link. */
const accountReplay = sharedFact(async ({ pool, store }) => {
  const streams = (
    await pool.query<{ stream_id: string }>(
      "SELECT DISTINCT stream_id FROM events WHERE stream_type = 'account' ORDER BY stream_id",
    )
  ).rows.map((r) => r.stream_id);
  let total = 0;
  let deposited = 0;
  const chainErrors: string[] = [];
  const balances = new Map<string, number>();
  for (const streamId of streams) {
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
        if (event.type === 'FundsDeposited') deposited += data.amount;
      }
    }
    const folded = state.status === 'none' ? 0 : state.balance;
    // The decider's fold from a snapshot must agree with the full fold.
    const loaded = await loadAggregate(store, streamId, accountDecider);
    const viaLoader = loaded.state.status === 'none' ? 0 : loaded.state.balance;
    if (viaLoader !== folded)
      chainErrors.push(`${streamId}: snapshot+tail ${viaLoader} != full fold ${folded}`);
    balances.set(streamId.replace(/^account-/, ''), folded);
    total += folded;
  }
  return { streams, total, deposited, chainErrors, balances };
});

/** The account_balance read model's totals. */
const balanceReadModel = sharedFact(async ({ pool }) => {
  const rm = (
    await pool.query<{ total: string | null; n: string; negative: string }>(
      'SELECT sum(balance) AS total, count(*) AS n, count(*) FILTER (WHERE balance < 0) AS negative FROM account_balance',
    )
  ).rows[0]!;
  return { total: Number(rm.total ?? 0), negative: rm.negative };
});

export const moneyConserved: Invariant = {
  name: 'money conserved',
  async check(input) {
    const replay = await accountReplay(input);
    const rm = await balanceReadModel(input);
    return {
      ok:
        rm.total === input.depositsSent &&
        replay.total === input.depositsSent &&
        replay.deposited === input.depositsSent,
      detail: `deposits ${input.depositsSent} / in events ${replay.deposited}; balances: read model ${rm.total}, replay ${replay.total}`,
      figures: {
        accounts: replay.streams.length,
        'deposits sent': input.depositsSent,
        'deposits in events': replay.deposited,
        'sum of balances (read model)': rm.total,
        'sum of balances (replayed events)': replay.total,
        'merchant balance (replayed)': replay.balances.get(input.merchantAccountId) ?? 0,
      },
    };
  },
};

export const balanceChainsValid: Invariant = {
  name: 'account balance chains valid, never negative',
  async check(input) {
    const { chainErrors } = await accountReplay(input);
    const rm = await balanceReadModel(input);
    return {
      ok: chainErrors.length === 0 && Number(rm.negative) === 0,
      detail: `${chainErrors.length} bad links, ${rm.negative} negative read-model rows${sample(chainErrors)}`,
    };
  },
};

export const balanceReadModelIsReplay: Invariant = {
  name: 'account read model = replay per account',
  async check(input) {
    const { streams, balances } = await accountReplay(input);
    const rmRows = await input.pool.query<{ account_id: string; balance: string }>(
      'SELECT account_id, balance FROM account_balance',
    );
    const balanceMismatch = rmRows.rows.filter(
      (r) => balances.get(r.account_id) !== Number(r.balance),
    );
    return {
      ok: balanceMismatch.length === 0 && rmRows.rows.length === streams.length,
      detail: `${balanceMismatch.length} differ, ${rmRows.rows.length} rows vs ${streams.length} streams${sample(balanceMismatch)}`,
    };
  },
};

type Moved = (ref: string, type: 'AccountDebited' | 'AccountCredited') => number;

/** An order's payment, refund and revenue, when they do not match its outcome. */
function orderMoneyOff(s: SagaRecord, moved: Moved): object | undefined {
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
  if (ok) return undefined;
  return { saga: s.sagaId, status: s.finalStatus, total: s.amount, paid, refunded, revenue };
}

/** A transfer's debit, refund and credit, when they do not match its outcome. */
function transferMoneyOff(s: SagaRecord, moved: Moved): object | undefined {
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
  if (ok) return undefined;
  return { saga: s.sagaId, status: s.finalStatus, amount: s.amount, debited, refunded, credited };
}

export const eachSagaMovedItsMoney: Invariant = {
  name: "each saga moved exactly its outcome's money",
  async check({ pool, sagas }) {
    const movements = new Map<string, number>(); // `${reference}|${type}` -> summed amount
    for (const row of (
      await pool.query<{ event_type: string; ref: string; amount: string }>(
        "SELECT event_type, data->>'reference' AS ref, (data->>'amount')::bigint AS amount FROM events WHERE event_type IN ('AccountDebited','AccountCredited')",
      )
    ).rows) {
      const key = `${row.ref}|${row.event_type}`;
      movements.set(key, (movements.get(key) ?? 0) + Number(row.amount));
    }
    const moved: Moved = (ref, type) => movements.get(`${ref}|${type}`) ?? 0;
    const moneyErrors = sagas.flatMap((s) => {
      const off = s.kind === 'order' ? orderMoneyOff(s, moved) : transferMoneyOff(s, moved);
      return off ? [off] : [];
    });
    return {
      ok: moneyErrors.length === 0,
      detail: `${moneyErrors.length} sagas off${sample(moneyErrors)}`,
    };
  },
};
