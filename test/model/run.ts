import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { PRELUDE, type CommandKind, type ModelCommand } from './commands';
import { checkModelInvariants, settle, type Check } from './invariants';
import { initialModel } from './model';
import { ModelSystem, type SharedInfrastructure } from './system';

/** How long sagas get to end after the last command (MODEL_SETTLE_MS). */
export const SETTLE_MS = Number(process.env.MODEL_SETTLE_MS ?? 45_000);

/**
 * MODEL_IGNORE_CHECKS: comma list of check-name fragments whose failures do not fail a run
 * (to hunt for new defects past a known one); they still show in MODEL_DEBUG output.
 */
function ignoredChecks(): string[] {
  return (process.env.MODEL_IGNORE_CHECKS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface RunReport {
  failed: Check[];
  parkedForOperator: string[];
  checks: Check[];
  log: string[];
}

/**
 * One command sequence against a fresh system: run the commands, wait for the sagas to
 * end, check every invariant. Throws (with the failed checks) when any invariant broke.
 */
export async function runModel(
  infra: SharedInfrastructure,
  commands: Iterable<ModelCommand>,
  kinds: Set<CommandKind>,
): Promise<RunReport> {
  const system = await new ModelSystem(infra).start();
  try {
    const model = initialModel();
    const runId = randomBytes(4).toString('hex');
    const sequence = [...PRELUDE, ...commands];
    await fc.asyncModelRun(() => ({ model, real: { system, runId, kinds } }), sequence);
    const settled = await settle(system, model, SETTLE_MS);
    const checks = await checkModelInvariants(system, model, settled);
    if (process.env.MODEL_DEBUG)
      console.log(
        [
          `run ${runId}: ${sequence.map(String).join(', ')}`,
          `  ${model.orders.length} orders, ${model.transfers.length} transfers, settled in ${settled.waitedMs} ms, parked for an operator (retried once): ${settled.parkedForOperator.join(' ') || 'none'}`,
          ...settled.states.map(
            (s) =>
              `  ${s.sagaId} workflow=${s.workflowStatus} saga=${s.sagaStatus} aggregate=${s.aggregateStatus} readModel=${s.readModelStatus}${s.reason ? ` (${s.reason})` : ''}`,
          ),
          ...checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name}${c.ok ? '' : `: ${c.detail}`}`),
          ...system.log.slice(-10).map((line) => `  log: ${line}`),
        ].join('\n'),
      );
    const ignored = ignoredChecks();
    const counted = (c: Check) => !ignored.some((part) => c.name.includes(part));
    return {
      checks,
      failed: checks.filter((c) => !c.ok && counted(c)),
      parkedForOperator: settled.parkedForOperator,
      log: system.log,
    };
  } finally {
    await system.stop();
  }
}

export function describeFailures(report: RunReport): string {
  const parked = report.parkedForOperator.length
    ? [`  (parked for an operator, retried once: ${report.parkedForOperator.join(' ')})`]
    : [];
  return [...report.failed.map((c) => `  ✗ ${c.name}: ${c.detail}`), ...parked].join('\n');
}

/**
 * Runs a sequence and throws when an invariant broke (for fc.asyncProperty). Past
 * `deadline` (epoch ms) it runs nothing and passes: no new runs start and shrinking stops,
 * while a run in progress always finishes (and cleans up) before the test ends.
 */
export async function assertModel(
  infra: SharedInfrastructure,
  commands: Iterable<ModelCommand>,
  kinds: Set<CommandKind>,
  deadline = Infinity,
): Promise<void> {
  if (Date.now() > deadline) return;
  const report = await runModel(infra, commands, kinds);
  if (report.failed.length > 0) throw new Error(`invariants broken:\n${describeFailures(report)}`);
}
