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
 * `npm test` runs a short version; `npm run test:model` a long one. Knobs:
 * MODEL_RUNS, MODEL_MAX_COMMANDS, MODEL_SEED (replay), MODEL_PATH (replay a shrink path),
 * MODEL_COMMANDS / MODEL_SKIP (command kinds, see commands.ts), MODEL_TIME_LIMIT_MS,
 * MODEL_SETTLE_MS.
 */

const numRuns = Number(process.env.MODEL_RUNS ?? 6);
const maxCommands = Number(process.env.MODEL_MAX_COMMANDS ?? 20);
const seed = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : Date.now() % 2 ** 31;
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
