/**
 * Settle: replay some keys late, wait until Temporal reports every saga terminal, then until
 * the bus has caught up (the relay at the head, the loyalty consumer with nothing pending).
 */
import { busLag, caughtUp, type BusLag } from '../bus';
import type { ChaosContext } from '../context';
import { isTerminal } from '../sagaRecord';
import { sagaState } from '../sagaState';
import { mapLimit, sleep, waitFor } from '../util';
import type { ChaosPhase } from './runner';
import { replayLateDuplicates } from './submit';

/** Records the terminal status (and reason) of every saga that has ended since the last round. */
async function recordEndedSagas(ctx: ChaosContext): Promise<void> {
  const open = ctx.sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
  await mapLimit(open, 8, async (saga) => {
    const state = await sagaState(ctx.system.temporal, saga.sagaId).catch(() => undefined);
    if (!state) return;
    if (state.closed) {
      saga.finalStatus = state.result?.status ?? `WORKFLOW_${state.executionStatus}`;
      saga.finalReason = state.result?.reason ?? null;
    } else if (state.searchStatus === 'COMPENSATION_FAILED') {
      saga.finalStatus = 'COMPENSATION_FAILED';
    }
  });
}

async function waitForEverySaga(ctx: ChaosContext): Promise<void> {
  const { sagas } = ctx;
  const settleDeadline = Date.now() + ctx.options.settleTimeoutMs;
  for (let round = 0; ; round++) {
    await recordEndedSagas(ctx);
    const stillOpen = sagas.filter((s) => !isTerminal(s.kind, s.finalStatus));
    if (round % 5 === 0 || stillOpen.length === 0)
      ctx.note(`settle: ${sagas.length - stillOpen.length}/${sagas.length} sagas terminal`);
    if (stillOpen.length === 0) break;
    if (Date.now() > settleDeadline) {
      ctx.note(`settle timeout: ${stillOpen.length} sagas still running`);
      break;
    }
    await sleep(2_000);
  }
}

/** Bounded: a bus that never catches up is left for the checks to report. */
const BUS_SETTLE_MS = 60_000;

async function waitForTheBus(ctx: ChaosContext): Promise<void> {
  const { pool, nats } = ctx.system;
  let lag: BusLag | undefined;
  const settled = await waitFor(
    'the relay and loyalty to catch up',
    BUS_SETTLE_MS,
    async () => caughtUp((lag = await busLag(pool, nats))),
    false,
  );
  ctx.note(
    `settle: bus ${settled ? 'caught up' : `still behind after ${BUS_SETTLE_MS / 1000} s`} ${JSON.stringify(lag)}`,
  );
}

export const settlePhase: ChaosPhase = {
  name: 'settle',
  async run(ctx) {
    await replayLateDuplicates(ctx);
    await waitForEverySaga(ctx);
    await waitForTheBus(ctx);
  },
};
