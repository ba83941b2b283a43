import fc from 'fast-check';
import { commandArbitraries, enabledKinds } from './commands';
import { assertModel } from './run';
import { connectInfrastructure, type SharedInfrastructure } from './system';

/**
 * Model-based test of the whole system: random command sequences (accounts, stock, orders,
 * transfers, approvals, cancels, terminations, idempotent retries, erasures, projection
 * rebuilds, worker restarts, armed faults) against the real API, worker, projections,
 * Postgres and Temporal; the invariants in invariants.ts judge each run's end state.
 *
 * `npm test` runs a short version; `npm run test:model` a long one. Knobs (env):
 *   MODEL_RUNS, MODEL_MAX_COMMANDS  how many sequences, how long
 *   MODEL_SEED, MODEL_PATH          replay a failure (both are printed when one fails)
 *   MODEL_RANDOM_SEED=1             a new seed per run (test:model sets it)
 *   MODEL_COMMANDS, MODEL_SKIP      command kinds to use / leave out (commands.ts lists them;
 *                                   the known-defect triggers are kinds of their own)
 *   MODEL_IGNORE_CHECKS             check-name fragments that do not fail a run (hunting
 *                                   for new defects past a known one)
 *   MODEL_TIME_LIMIT_MS             no new run (or shrink step) starts after this
 *   MODEL_SETTLE_MS                 how long sagas get to end after the last command
 *   MODEL_DEBUG=1                   print every run: commands, sagas, checks
 */

const numRuns = Number(process.env.MODEL_RUNS ?? 10);
const maxCommands = Number(process.env.MODEL_MAX_COMMANDS ?? 20);
/**
 * `npm test` searches the same sequences every time (a fixed seed), so a red CI run is a
 * regression, not a roll of the dice; `npm run test:model` draws a new seed each run.
 */
const SHORT_RUN_SEED = 20261201;
const seed = process.env.MODEL_SEED
  ? Number(process.env.MODEL_SEED)
  : process.env.MODEL_RANDOM_SEED === '1'
    ? Date.now() % 2 ** 31
    : SHORT_RUN_SEED;
const timeLimitMs = Number(process.env.MODEL_TIME_LIMIT_MS ?? 150_000);
const kinds = enabledKinds();

let infra: SharedInfrastructure;
beforeAll(async () => {
  infra = await connectInfrastructure();
});
afterAll(async () => infra?.env.teardown());

test(
  `model: ${numRuns} runs of up to ${maxCommands} commands (seed ${seed})`,
  async () => {
    console.log(
      `model test: seed ${seed}, ${numRuns} runs, up to ${maxCommands} commands, kinds ${[...kinds].join(',')}`,
    );
    const deadline = Date.now() + timeLimitMs;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commandArbitraries(kinds), { maxCommands, size: 'large' }),
        (commands) => assertModel(infra, commands, kinds, deadline),
      ),
      {
        numRuns,
        seed,
        ...(process.env.MODEL_PATH && { path: process.env.MODEL_PATH }),
        verbose: 1,
      },
    );
  },
  timeLimitMs + 120_000,
);
