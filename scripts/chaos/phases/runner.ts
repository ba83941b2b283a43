import type { ChaosContext } from '../context';

/** One phase of a run; `name` is its key in the report's `phaseSeconds`. */
export interface ChaosPhase {
  name: string;
  run: (ctx: ChaosContext) => Promise<void>;
}

/**
 * Runs the phases in order, each after the last has finished, and reports how long each
 * took (the first from the start of the run, so it includes building the system).
 */
export async function runPhases(ctx: ChaosContext, phases: readonly ChaosPhase[]): Promise<void> {
  let phaseStart = ctx.startedAt;
  for (const phase of phases) {
    try {
      await phase.run(ctx);
    } catch (error) {
      ctx.note(`phase ${phase.name} failed`);
      throw error;
    }
    ctx.report.phaseSeconds[phase.name] = Math.round((Date.now() - phaseStart) / 100) / 10;
    phaseStart = Date.now();
  }
}
