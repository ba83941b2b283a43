import type { AggregateDefinition, DomainEvent } from '../eventstore/aggregateLoader';

// Type-only import: nothing from the event store (or pg) is loaded with the domain code,
// so workflows can import src/domain inside Temporal's deterministic sandbox.
export type { AggregateDefinition, DomainEvent };

/** Everything a decision may depend on besides state and payload arrives here. */
export interface CommandMetadata {
  /** ISO-8601 instant: deciders never read the clock. */
  now: string;
  commandId?: string;
  correlationId?: string;
  causationId?: string;
}

export interface Command<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
  metadata: CommandMetadata;
}

/**
 * A business rule said no. Returned by decide (not thrown), so callers see it in the type.
 * `Code` is one of the aggregate's rejection codes (ACCOUNT_REJECTION_CODES, ...): the API
 * maps every one of them to an HTTP status (src/api/plugins/errors.ts).
 */
export class DomainRejection<Code extends string = string> extends Error {
  override readonly name = 'DomainRejection';

  constructor(
    readonly code: Code,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Events to append (possibly none: an idempotent repeat), or the reason for refusing. */
export type Decision<E, Code extends string = string> = readonly E[] | DomainRejection<Code>;

/** Rejection codes every decider may answer (besides its own). */
export const COMMON_REJECTION_CODES = ['UNKNOWN_COMMAND'] as const;

export interface Decider<
  State,
  Cmd extends Command,
  Event extends DomainEvent,
> extends AggregateDefinition<State, Event> {
  decide(command: Cmd, state: State): Decision<Event>;
  /** `<streamType>-<id>` */
  streamId(id: string): string;
  /** Current schema version of every event type this aggregate writes. */
  eventSchemaVersions: Readonly<Record<Event['type'], number>>;
}

export function isRejection(x: unknown): x is DomainRejection {
  return x instanceof DomainRejection;
}

export function reject<const Code extends string>(
  code: Code,
  message: string,
  details?: Record<string, unknown>,
): DomainRejection<Code> {
  return new DomainRejection(code, message, details);
}

/** Every event type is at schema version 1 until its shape changes (then add an upcaster). */
export const SCHEMA_VERSION = 1;

/** Maps each event type to SCHEMA_VERSION: `schemaVersions(['A', 'B'])` -> `{ A: 1, B: 1 }`. */
export function schemaVersions<T extends string>(types: readonly T[]): Readonly<Record<T, number>> {
  const versions = {} as Record<T, number>;
  for (const type of types) versions[type] = SCHEMA_VERSION;
  return Object.freeze(versions);
}

/** Positive safe integer (amounts in minor units, quantities). */
export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Ends decide's switch: compilation fails when a command type has no case, and a malformed
 * command arriving at runtime is rejected (UNKNOWN_COMMAND) instead of crashing the caller.
 */
export function unknownCommand(command: never): DomainRejection<'UNKNOWN_COMMAND'> {
  const type = (command as { type?: unknown } | undefined)?.type;
  return reject('UNKNOWN_COMMAND', `Unknown command type: ${String(type)}`, { type });
}

/** Own-property lookup in a JSON record keyed by external ids (ignores the prototype). */
export function ownEntry<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
