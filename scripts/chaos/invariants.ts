/**
 * The invariants of a finished run, as a list of named checks (one module per family in
 * checks/), run in order by checkInvariants. Each check returns whether it held, its detail
 * and the figures it measured; facts several checks read are computed once (sharedFact).
 */
import { ALL_PROJECTIONS } from '../../src/projections';
import {
  balanceChainsValid,
  balanceReadModelIsReplay,
  eachSagaMovedItsMoney,
  moneyConserved,
} from './checks/money';
import {
  noDuplicateEventsPerStep,
  oneMovementPerReference,
  oneReservationPerOrderSku,
} from './checks/duplicates';
import { INTEGRATION_INVARIANTS, type IntegrationInput } from './checks/integration';
import { rebuildInvariants } from './checks/rebuild';
import {
  everySagaTerminal,
  noCompensationFailed,
  readModelStatusIsSagaStatus,
  sagasEqualDistinctKeys,
} from './checks/sagas';
import { orderStockMatchesOutcome, stockAddsUp } from './checks/stock';
import type { Check, Figures, Invariant, InvariantInput } from './checks/types';

export type { Check, Invariant, InvariantInput } from './checks/types';
export type { IntegrationInput } from './checks/integration';
export { isTerminal, type SagaRecord } from './sagaRecord';

export interface InvariantResult {
  figures: Figures;
  checks: Check[];
}

const rebuild = rebuildInvariants(ALL_PROJECTIONS);

/** In report order. The rebuild checks come last: they rebuild every projection. */
export const INVARIANTS: readonly Invariant[] = [
  everySagaTerminal,
  noCompensationFailed,
  sagasEqualDistinctKeys,
  readModelStatusIsSagaStatus,
  moneyConserved,
  balanceChainsValid,
  balanceReadModelIsReplay,
  eachSagaMovedItsMoney,
  stockAddsUp,
  orderStockMatchesOutcome,
  noDuplicateEventsPerStep,
  oneMovementPerReference,
  oneReservationPerOrderSku,
  ...rebuild.invariants,
];

export async function checkInvariants(input: InvariantInput): Promise<InvariantResult> {
  const run: InvariantInput = { ...input }; // one object per run: shared facts are per run
  const result = await runInvariants(INVARIANTS, run);
  result.figures['read-model rows compared with rebuild'] = await rebuild.rowsCompared(run);
  return result;
}

/** The bus's invariants (checks/integration.ts): a run with NATS, the relay and loyalty. */
export function checkIntegrationInvariants(input: IntegrationInput): Promise<InvariantResult> {
  return runInvariants(INTEGRATION_INVARIANTS, { ...input });
}

async function runInvariants<Input>(
  invariants: readonly Invariant<Input>[],
  run: Input,
): Promise<InvariantResult> {
  const figures: Figures = {};
  const checks: Check[] = [];
  for (const invariant of invariants) {
    const verdict = await invariant.check(run);
    Object.assign(figures, verdict.figures);
    checks.push({ name: invariant.name, ok: verdict.ok, detail: verdict.detail });
  }
  return { figures, checks };
}
