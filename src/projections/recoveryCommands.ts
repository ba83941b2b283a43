/**
 * The CLI's partial-recovery commands (cli.ts dispatches to them):
 *   rebuild <name> --stream <id>[,...]                 recompute those aggregates' rows live
 *   rebuild <name> --as-of <ISO> [--into <table>]      the read model at an instant, scratch
 *   replay <name> [--from <ISO>] [--to <ISO>] [--types A,B] --into <table>
 * Arguments are checked before any connection is opened; a refusal is a ReplayRefusedError.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { System } from '../system/createSystem';
import { progressBar } from './progressBar';
import { rebuildStreams } from './rebuildStreams';
import { ReplayRefusedError } from './replayRefused';
import { asOfTable, replayIntoScratch, type ScratchReplayRequest } from './scratchReplay';

export type RecoveryRequest =
  { kind: 'streams'; streamIds: string[] } | { kind: 'scratch'; request: ScratchReplayRequest };

/** The flags of `rebuild <name>` beyond the name; undefined: a plain full rebuild. */
export function rebuildRequest(name: string, args: readonly string[]): RecoveryRequest | undefined {
  const values = parse(args, {
    stream: { type: 'string' },
    'as-of': { type: 'string' },
    into: { type: 'string' },
    replace: { type: 'boolean' },
  });
  const { stream, 'as-of': asOfText } = values;
  if (stream !== undefined && asOfText !== undefined) {
    throw new ReplayRefusedError('--stream and --as-of do not go together: pick one');
  }
  if (stream !== undefined) {
    if (values.into !== undefined || values.replace) {
      throw new ReplayRefusedError('--into and --replace go with --as-of, not --stream');
    }
    const streamIds = stream
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean);
    if (streamIds.length === 0) throw new ReplayRefusedError('--stream needs a stream id');
    return { kind: 'streams', streamIds };
  }
  if (asOfText === undefined) {
    if (values.into !== undefined || values.replace) {
      throw new ReplayRefusedError('--into and --replace go with --as-of');
    }
    return undefined;
  }
  const to = parseInstant('--as-of', asOfText);
  const into = values.into ?? asOfTable(name, to);
  return { kind: 'scratch', request: { to, into, replace: values.replace === true } };
}

/** The flags of `replay <name>`. */
export function replayRequest(args: readonly string[]): RecoveryRequest {
  const values = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    types: { type: 'string' },
    into: { type: 'string' },
    replace: { type: 'boolean' },
  });
  const { into, from: fromText, to: toText, types } = values;
  if (!into) throw new ReplayRefusedError('--into <table> is required: the scratch table to build');
  const from = fromText === undefined ? undefined : parseInstant('--from', fromText);
  const to = toText === undefined ? undefined : parseInstant('--to', toText);
  const eventTypes = types
    ?.split(',')
    .map((type) => type.trim())
    .filter(Boolean);
  if (types !== undefined && !eventTypes?.length) {
    throw new ReplayRefusedError('--types needs event types, e.g. --types OrderPlaced,OrderPaid');
  }
  return {
    kind: 'scratch',
    request: {
      into,
      replace: values.replace === true,
      ...(from && { from }),
      ...(to && { to }),
      ...(eventTypes && { eventTypes }),
    },
  };
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  args: readonly string[],
  options: O,
) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ReplayRefusedError(error instanceof Error ? error.message : String(error));
  }
}

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time; without an offset it is UTC (not the host's zone). */
export function parseInstant(flag: string, text: string): Date {
  const match = ISO_INSTANT.exec(text);
  const refuse = () =>
    new ReplayRefusedError(
      `${flag} ${JSON.stringify(text)} is no ISO 8601 instant, e.g. 2026-12-01T15:30:00Z or 2026-12-01`,
    );
  if (!match) throw refuse();
  const [, year, month, day, zone] = match;
  const hasTime = text.includes('T');
  const at = new Date(hasTime && zone === undefined ? `${text}Z` : text);
  // Date accepts 2026-02-30 as March 2: the calendar day must exist as written.
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const realDay =
    calendar.getUTCFullYear() === Number(year) &&
    calendar.getUTCMonth() === Number(month) - 1 &&
    calendar.getUTCDate() === Number(day);
  if (Number.isNaN(at.getTime()) || !realDay) throw refuse();
  return at;
}

export async function runRecovery(
  system: System,
  name: string,
  request: RecoveryRequest,
): Promise<void> {
  if (request.kind === 'streams') {
    const result = await rebuildStreams(system, name, request.streamIds);
    console.log(
      `${name}: rebuilt ${result.streams} stream(s) in generation ${result.generation} from ${result.events} event(s) up to checkpoint ${result.checkpoint}`,
    );
    if (result.pending > 0) {
      console.log(
        `${result.pending} later event(s) of these streams are the projector's to apply (is one running? npm run projections -- status)`,
      );
    }
    return;
  }
  const bar = progressBar(`${name} → ${request.request.into}`);
  let result;
  try {
    result = await replayIntoScratch(system, name, request.request, bar.update);
  } finally {
    bar.stop();
  }
  console.log(
    `${name}: scratch table ${result.table} built from ${result.events} events in ${result.seconds.toFixed(1)} s`,
  );
}
