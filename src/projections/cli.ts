/**
 * `npm run projections -- status` prints every projection's state and lag;
 * `npm run projections -- rebuild <name>` rebuilds one into a fresh generation with a
 * progress bar, while readers keep using the current one until the switch;
 * `npm run projections -- skip <name> --event <position> --reason "..."` dead-letters the
 * event a failing projection is stuck on; `dead-letters <name>` lists what was skipped.
 * Partial recovery (`rebuild <name> --stream | --as-of`, `replay`) is in recoveryCommands.ts.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { createSystem, type System } from '../system/createSystem';
import { ALL_PROJECTIONS } from './all';
import {
  listDeadLetters,
  NotStuckOnEventError,
  skipStuckEvent,
  type SkipRequest,
} from './deadLetters';
import { progressBar } from './progressBar';
import { rebuildProjection } from './rebuild';
import {
  rebuildRequest,
  replayRequest,
  runRecovery,
  type RecoveryRequest,
} from './recoveryCommands';
import { ReplayRefusedError } from './replayRefused';
import { describeHoldback, getCatchUpHoldback, getProjectionStatuses } from './status';
import { UnknownProjectionError } from './types';

const COMMANDS = ['status', 'rebuild', 'replay', 'skip', 'dead-letters'] as const;
type Command = (typeof COMMANDS)[number];

/** Exit code for a refused request (bad arguments, unknown projection, wrong position). */
const USAGE_ERROR = 2;

function usage(): string {
  return [
    'usage: npm run projections -- <command>',
    '  status                                        state, checkpoint, lag and errors of every projection',
    '  rebuild <name>                                rebuild one projection from position 0 and switch readers over',
    "  rebuild <name> --stream <id>[,<id>...]        recompute only those streams' rows, while the projector runs",
    '  rebuild <name> --as-of <ISO> [--into <table>] the read model as it was at an instant, into a scratch table',
    '             [--replace]                        (default table <name>_asof_<yyyymmdd_hhmmss>)',
    '  replay <name> --into <table> [--from <ISO>] [--to <ISO>] [--types A,B] [--replace]',
    '                                                the read model of events recorded in [from, to] (inclusive)',
    '                                                and/or of some types, into a scratch table; --replace',
    '                                                overwrites a scratch table an earlier replay made',
    '  skip <name> --event <position> --reason "…"   skip the event a failing projection is stuck on (dead letter)',
    '             [--by <who>]                       recorded as who skipped it (default cli:<user>)',
    '  dead-letters <name>                           events skipped for a projection, most recent first',
    '',
    `projections: ${ALL_PROJECTIONS.map((p) => p.name).join(', ')}`,
  ].join('\n');
}

class UsageError extends Error {}

/** The system as every process builds it (the same store, upcasters and all), on a small pool. */
function openSystem(): System {
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/sagaflow',
    );
  }
  return createSystem(
    { ...config, DATABASE_URL: config.DATABASE_URL },
    {
      applicationName: 'sagaflow-projections-cli',
      logger: createLogger(config.LOG_LEVEL, 'projections-cli'),
      poolMax: 3,
      // A rebuild's progress count may scan the whole log (its statement timeout is off too).
      pool: { queryTimeoutMs: 0 },
      inlineProjection: false,
    },
  );
}

async function printStatus({ pool }: System): Promise<void> {
  const [statuses, holdback] = await Promise.all([
    getProjectionStatuses(pool),
    getCatchUpHoldback(pool),
  ]);
  console.table(
    statuses.map((s) => ({
      name: s.name,
      version: s.version,
      generation: s.generation,
      state: s.state,
      checkpoint: s.checkpoint,
      lagEvents: s.lagEvents,
      heldBack: s.heldBackEvents,
      lagSeconds: Number(s.lagSeconds.toFixed(1)),
      eventsPerSecond: Number(s.eventsPerSecond.toFixed(1)),
      errors: s.errorsTotal,
    })),
  );
  const held = describeHoldback(holdback);
  if (held.length > 0) console.log(held.join('\n'));
  for (const s of statuses) {
    if (!s.error) continue;
    console.log(
      [
        `${s.name} is failing at position ${s.error.position}`,
        `  event:      ${s.error.eventId ?? '?'} (${s.error.eventType ?? '?'})`,
        `  error:      ${s.error.message}`,
        `  attempts:   ${s.error.attempts} since ${s.error.since ?? '?'}; next retry ${s.error.nextRetryAt ?? 'when a runner owns it'}`,
        `  to skip it: npm run projections -- skip ${s.name} --event ${s.error.position} --reason "..."`,
      ].join('\n'),
    );
  }
}

async function rebuild(system: System, name: string): Promise<void> {
  const bar = progressBar(name);
  const result = await rebuildProjection(system, name, bar.update);
  bar.stop();
  console.log(
    `${result.projection}: generation ${result.generation} is live (${result.events} events in ${result.seconds.toFixed(1)} s)`,
  );
}

function skipArguments(args: readonly string[]) {
  let values: { event?: string; reason?: string; by?: string };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { event: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' } },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (!values.event || !/^[0-9]{1,18}$/.test(values.event)) {
    throw new UsageError('--event <position> is required: the position status shows as failing');
  }
  if (!values.reason?.trim()) throw new UsageError('--reason "..." is required (it is recorded)');
  return {
    position: BigInt(values.event),
    reason: values.reason.trim(),
    skippedBy: values.by ?? `cli:${userInfo().username}`,
  };
}

async function skip(system: System, name: string, request: SkipRequest): Promise<void> {
  const deadLetter = await skipStuckEvent(system, name, request);
  console.log(
    `${name}: skipped event ${deadLetter.eventId} (${deadLetter.eventType}) at position ${deadLetter.position}; dead letter ${deadLetter.id}`,
  );
}

async function printDeadLetters({ pool }: System, name: string): Promise<void> {
  const deadLetters = await listDeadLetters(pool, name);
  if (deadLetters.length === 0) {
    console.log(`${name}: no dead letters`);
    return;
  }
  console.table(
    deadLetters.map((d) => ({
      position: d.position,
      eventId: d.eventId,
      eventType: d.eventType,
      error: d.error,
      reason: d.reason,
      skippedBy: d.skippedBy,
      skippedAt: d.skippedAt,
    })),
  );
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, name, ...rest] = argv;
  if (!COMMANDS.includes(command as Command)) {
    console.error(usage());
    return command === undefined || command === '--help' || command === '-h' ? 0 : USAGE_ERROR;
  }
  if (command !== 'status' && (!name || name.startsWith('-'))) {
    console.error(usage());
    return USAGE_ERROR;
  }
  let system: System | undefined;
  try {
    const skipRequest = command === 'skip' ? skipArguments(rest) : undefined;
    const recovery: RecoveryRequest | undefined =
      command === 'replay'
        ? replayRequest(rest)
        : command === 'rebuild'
          ? rebuildRequest(name!, rest)
          : undefined;
    system = openSystem();
    if (command === 'status') await printStatus(system);
    else if (recovery) await runRecovery(system, name!, recovery);
    else if (command === 'rebuild') await rebuild(system, name!);
    else if (skipRequest) await skip(system, name!, skipRequest);
    else await printDeadLetters(system, name!);
    return 0;
  } catch (error) {
    const refused =
      error instanceof UsageError ||
      error instanceof ReplayRefusedError ||
      error instanceof NotStuckOnEventError ||
      error instanceof UnknownProjectionError;
    if (refused) {
      console.error(error.message);
      return USAGE_ERROR;
    }
    throw error;
  } finally {
    await system?.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
