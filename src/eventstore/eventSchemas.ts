import { Compile, type CompiledSchema, type TSchema } from '../infra/typebox';
import { UpcasterRegistry, type Upcaster } from './upcasting';

/** One version of one event type's data: its JSON schema and how to reach it from the one before. */
export interface EventSchemaVersion {
  version: number;
  schema: TSchema;
  /** Required from version 2 on: turns data of `version - 1` into this version. */
  upcastFromPrevious?: Upcaster;
}

/** Every version of every event type, oldest first (what each aggregate keeps beside its decider). */
export type EventSchemaCatalogue<Type extends string = string> = Readonly<
  Record<Type, readonly EventSchemaVersion[]>
>;

/** The store was asked to append an event type nobody declared a schema version for. */
export class UndeclaredEventTypeError extends Error {
  override readonly name = 'UndeclaredEventTypeError';
  constructor(readonly eventType: string) {
    super(`Event type ${eventType} has no declared schema version: declare it beside its decider`);
  }
}

/** An append named a schema version other than the current one (only the current one is written). */
export class EventSchemaVersionMismatchError extends Error {
  override readonly name = 'EventSchemaVersionMismatchError';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly currentVersion: number,
  ) {
    super(
      `Event ${eventType}: cannot append schema version ${schemaVersion}, the current version is ${currentVersion}`,
    );
  }
}

/** An event's data does not match the schema of its type and version. */
export class EventSchemaViolationError extends Error {
  override readonly name = 'EventSchemaViolationError';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    /** Dotted path of the first offending field ('' for the data itself). */
    readonly field: string,
    readonly problem: string,
  ) {
    super(
      `Event ${eventType} v${schemaVersion}: ${field === '' ? 'data' : `field ${field}`} ${problem}`,
    );
  }
}

/** A stored event is of a schema version newer than this code knows (written by newer code). */
export class FutureEventSchemaVersionError extends Error {
  override readonly name = 'FutureEventSchemaVersionError';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly knownVersion: number,
    readonly streamId: string,
    readonly globalPosition: bigint,
    readonly streamVersion: number,
  ) {
    super(
      `Event ${eventType} at ${streamId} version ${streamVersion} (global position ${globalPosition}) ` +
        `is of schema version ${schemaVersion}, newer than ${knownVersion} known to this code: deploy the newer code`,
    );
  }
}

/** '/items/0/currency' -> 'items.0.currency'; a missing property names the property itself. */
function fieldOf(violation: { instancePath: string; params: Record<string, unknown> }): string {
  const path = violation.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = violation.params.requiredProperties ?? violation.params.missingProperty;
  const extra = violation.params.additionalProperties;
  const named: unknown = Array.isArray(missing)
    ? (missing as unknown[])[0]
    : Array.isArray(extra)
      ? (extra as unknown[])[0]
      : missing;
  if (typeof named === 'string') path.push(named);
  return path.join('.');
}

interface RegisteredType {
  current: number;
  versions: Map<number, { schema: TSchema; validator: CompiledSchema }>;
}

/**
 * The event types a store accepts: the version each is written at, a schema per version
 * (appends are checked against the current one) and the upcasters from every older version.
 */
export class EventSchemaRegistry {
  readonly upcasters = new UpcasterRegistry();
  private readonly types = new Map<string, RegisteredType>();

  constructor(catalogue: EventSchemaCatalogue) {
    for (const [type, versions] of Object.entries(catalogue)) {
      const registered: RegisteredType = { current: 0, versions: new Map() };
      versions.forEach((entry, index) => {
        if (entry.version !== index + 1) {
          throw new Error(
            `Event ${type}: schema versions must run 1, 2, 3, … (got ${entry.version})`,
          );
        }
        if (entry.version > 1) {
          if (!entry.upcastFromPrevious) {
            throw new Error(
              `Event ${type} v${entry.version}: no upcaster from v${entry.version - 1}`,
            );
          }
          this.upcasters.register(type, entry.version - 1, entry.upcastFromPrevious);
        }
        registered.versions.set(entry.version, {
          schema: entry.schema,
          validator: Compile(entry.schema),
        });
        registered.current = entry.version;
      });
      if (registered.current === 0) throw new Error(`Event ${type}: no schema version`);
      this.types.set(type, registered);
    }
  }

  /** The version events of this type are written at and upcast to; undefined when undeclared. */
  currentVersion(eventType: string): number | undefined {
    return this.types.get(eventType)?.current;
  }

  /**
   * The schema version to store this event at (its current one), after checking its data.
   * Throws for an undeclared type, another version than the current one, or data off-schema.
   */
  check(eventType: string, data: unknown, schemaVersion?: number): number {
    const registered = this.types.get(eventType);
    if (!registered) throw new UndeclaredEventTypeError(eventType);
    const version = registered.current;
    if (schemaVersion !== undefined && schemaVersion !== version) {
      throw new EventSchemaVersionMismatchError(eventType, schemaVersion, version);
    }
    const { validator } = registered.versions.get(version)!;
    if (!validator.Check(data)) {
      const violations = validator.Errors(data);
      // The most specific violation first: the deepest path names the field at fault.
      const first = [...violations].sort(
        (a, b) => fieldOf(b).split('.').length - fieldOf(a).split('.').length,
      )[0];
      throw new EventSchemaViolationError(
        eventType,
        version,
        first ? fieldOf(first) : '',
        first?.message ?? 'does not match its schema',
      );
    }
    return version;
  }

  /** Every type and version with its JSON schema, types in name order. */
  catalogue(): { type: string; version: number; current: boolean; schema: TSchema }[] {
    return [...this.types.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([type, registered]) =>
        [...registered.versions.entries()].map(([version, { schema }]) => ({
          type,
          version,
          current: version === registered.current,
          schema,
        })),
      );
  }
}
