/** Invariants of the sagas themselves: all ended, counted once, read models agree. */
import { isTerminal } from '../sagaRecord';
import { sample, type Figures, type Invariant } from './types';

export const everySagaTerminal: Invariant = {
  name: 'every saga terminal',
  async check({ sagas }) {
    const byStatus: Record<string, number> = {};
    for (const s of sagas) {
      const key = `${s.kind}:${s.finalStatus ?? 'UNKNOWN'}`;
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
    const figures: Figures = {};
    for (const [k, v] of Object.entries(byStatus).sort()) figures[`sagas ${k}`] = v;
    const nonTerminal = sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
    figures['sagas started'] = sagas.length;
    figures['sagas not terminal'] = nonTerminal.length;
    return {
      ok: nonTerminal.length === 0,
      detail: `${nonTerminal.length} not terminal${sample(nonTerminal.map((s) => [s.sagaId, s.finalStatus]))}`,
      figures,
    };
  },
};

export const noCompensationFailed: Invariant = {
  name: 'no COMPENSATION_FAILED',
  async check({ sagas }) {
    const parked = sagas.filter((s) => s.finalStatus === 'COMPENSATION_FAILED');
    return {
      ok: parked.length === 0,
      detail: `${parked.length} parked${sample(parked.map((s) => s.sagaId))}`,
      figures: { 'sagas COMPENSATION_FAILED': parked.length },
    };
  },
};

export const sagasEqualDistinctKeys: Invariant = {
  name: 'sagas = distinct keys',
  async check({ pool, sagas, distinctKeys, temporalWorkflowCount }) {
    const rmCounts = await pool.query<{ orders: string; transfers: string }>(
      'SELECT (SELECT count(*) FROM order_summary) AS orders, (SELECT count(*) FROM transfer_summary) AS transfers',
    );
    const rmOrders = Number(rmCounts.rows[0]!.orders);
    const rmTransfers = Number(rmCounts.rows[0]!.transfers);
    return {
      ok:
        distinctKeys === sagas.length &&
        temporalWorkflowCount === distinctKeys &&
        rmOrders + rmTransfers === distinctKeys,
      detail: `keys ${distinctKeys}, recorded sagas ${sagas.length}, Temporal ${temporalWorkflowCount}, read models ${rmOrders}+${rmTransfers}`,
      figures: {
        'distinct idempotency keys sent': distinctKeys,
        'workflows in Temporal': temporalWorkflowCount,
        'orders + transfers in read models': rmOrders + rmTransfers,
      },
    };
  },
};

export const readModelStatusIsSagaStatus: Invariant = {
  name: 'read-model status = saga status',
  async check({ pool, sagas }) {
    const rmStatus = new Map<string, string>();
    for (const row of (
      await pool.query<{ id: string; status: string }>(
        'SELECT order_id AS id, status FROM order_summary UNION ALL SELECT transfer_id, status FROM transfer_summary',
      )
    ).rows)
      rmStatus.set(row.id, row.status);
    const statusMismatch = sagas.filter((s) => rmStatus.get(s.id) !== s.finalStatus);
    return {
      ok: statusMismatch.length === 0,
      detail: `${statusMismatch.length} differ${sample(statusMismatch.map((s) => [s.id, s.finalStatus, rmStatus.get(s.id)]))}`,
    };
  },
};
