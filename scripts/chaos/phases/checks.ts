/** Checks: the invariants over what the system stored, and the harness's own checks. */
import type { Check } from '../checks/types';
import type { ChaosContext } from '../context';
import { checkIntegrationInvariants, checkInvariants } from '../invariants';
import { MERCHANT } from '../options';
import type { ChaosPhase } from './runner';

/** Every copy of a key, concurrent or late, got the one saga the first answer named. */
function duplicatesConverge({ duplicates: d }: ChaosContext): Check {
  return {
    name: 'duplicate requests converge on one saga',
    ok:
      d.mismatched === 0 &&
      d.lateMismatched === 0 &&
      d.failedCopies === 0 &&
      d.submitFailures === 0,
    detail: `${d.keysDuplicated} keys sent concurrently ${d.extraRequests} extra times: ${d.mismatched} mismatched, ${d.failedCopies} copies failed; ${d.lateReplays} late replays, ${d.lateMismatched} mismatched; ${d.submitFailures} keys never accepted`,
  };
}

function noProcessDied({ report }: ChaosContext): Check {
  const exits = report.unexpectedExits;
  return {
    name: 'no process died on its own',
    ok: exits.length === 0,
    detail: `${exits.length} unexpected exits${exits.length ? ` e.g. ${JSON.stringify(exits.slice(0, 3))}` : ''}`,
  };
}

export const checksPhase: ChaosPhase = {
  name: 'checks',
  async run(ctx) {
    const { report, sagas, duplicates, seeded } = ctx;
    const result = await checkInvariants({
      pool: ctx.system.pool,
      store: ctx.system.store,
      sagas,
      depositsSent: seeded.depositsSent,
      restockedSent: seeded.restockedSent,
      distinctKeys: sagas.length + duplicates.submitFailures,
      temporalWorkflowCount: ctx.workflowCount,
      merchantAccountId: MERCHANT,
    });
    const { pool, store, nats } = ctx.system;
    const bus = await checkIntegrationInvariants({ pool, store, nats });
    report.checks = [...result.checks, ...bus.checks, duplicatesConverge(ctx), noProcessDied(ctx)];
    report.figures = {
      'sagas requested': ctx.options.sagas,
      'orders accepted': sagas.filter((s) => s.kind === 'order').length,
      'transfers accepted': sagas.filter((s) => s.kind === 'transfer').length,
      'big orders approved': ctx.approvals.approved,
      'keys sent concurrently (duplicates)': duplicates.keysDuplicated,
      'extra duplicate requests': duplicates.extraRequests,
      'late duplicate replays': duplicates.lateReplays,
      ...result.figures,
      ...bus.figures,
    };
    report.faults = { ...ctx.faults, unexpectedExits: report.unexpectedExits.length };
  },
};
