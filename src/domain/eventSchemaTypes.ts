import { Type, type Static, type TSchema } from '../infra/typebox';
import type { EventSchemaCatalogue, EventSchemaVersion } from '../eventstore/eventSchemas';

// Building blocks of the event schemas each aggregate keeps beside its decider (eventSchemas.ts).
// They load TypeBox, so keep them out of what workflows import (Temporal's sandbox).

export type { EventSchemaCatalogue, EventSchemaVersion };

/** Event data: an object with exactly these properties. */
export const EventData = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

export const Id = () => Type.String({ minLength: 1 });
export const Text = () => Type.String();
/** ISO-8601 instant (the command's `now`). */
export const Instant = () => Type.String({ minLength: 1 });
/** Minor units. */
export const Amount = () => Type.Integer({ minimum: 0 });
export const Balance = () => Type.Integer();
export const Quantity = () => Type.Integer({ minimum: 1 });

/**
 * A personal field (see DEFAULT_PERSONAL_DATA_POLICY): its plaintext, or the envelope it is
 * sealed into before it is appended, or "[erased]". The store checks appends before it seals
 * them, but a command handler seals its decisions first, so both forms are valid.
 */
export const Personal = (plaintext: TSchema) =>
  Type.Union([
    plaintext,
    Type.Object(
      {
        $pii: Type.Literal(1),
        subject: Type.String(),
        gen: Type.Optional(Type.Integer({ minimum: 1 })),
        iv: Type.String(),
        tag: Type.String(),
        data: Type.String(),
      },
      { additionalProperties: false, description: 'sealed personal field' },
    ),
  ]);

/** An event type that has only ever had one shape. */
export const v1Only = (schema: TSchema): readonly EventSchemaVersion[] => [{ version: 1, schema }];

/**
 * The event types whose TypeScript data the given schemas do not type (never when all do).
 * Runtime limits such as minLength are beyond the type; the decider specs check those.
 */
export type UntypedEvents<
  E extends { type: string; data: unknown },
  S extends { readonly [K in E['type']]: TSchema },
> = {
  [K in E['type']]-?: [Extract<E, { type: K }>['data']] extends [Static<S[K]>] ? never : K;
}[E['type']];

/**
 * `checkEventTypes<UntypedEvents<OrderEvent, typeof CURRENT>>()` compiles only when every
 * event's data type is typed by its current schema; otherwise it asks for an argument whose
 * type names the event type that drifted.
 */
export const checkEventTypes = <Untyped extends string>(
  ..._misfit: [Untyped] extends [never] ? [] : [Untyped]
): void => undefined;
