import { Type, type TSchema } from './typebox';

export const ProblemField = Type.Object({
  field: Type.String({ description: 'Offending field, e.g. items[0].quantity' }),
  in: Type.Optional(Type.String({ description: 'body, querystring, params or headers' })),
  message: Type.String(),
});

/** RFC 9457 problem details. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.Optional(Type.String({ description: 'Domain rejection code, when there is one' })),
    correlationId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(ProblemField)),
  },
  { description: 'application/problem+json (RFC 9457)' },
);

const problemContent = { content: { 'application/problem+json': { schema: Problem } } };

/**
 * Response schemas for the error statuses a route may answer. Every route reaches Postgres,
 * so every route may answer 503 (with Retry-After) when a statement or lock timeout fires or
 * the database cannot be reached (src/api/plugins/errors.ts).
 */
export function problems(...statuses: number[]): Record<number, typeof problemContent> {
  const all = [...new Set([400, 401, 403, 500, 503, ...statuses])];
  return Object.fromEntries(all.map((status) => [status, problemContent]));
}

/** Ids from outside: letters, digits and a few separators, no path tricks. */
export const Id = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]*$',
    description,
  });

/** Positive integer in minor units (cents), or a positive quantity. */
export const MinorUnits = (description = 'Positive integer in minor units (e.g. cents)') =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });

/**
 * A global event-store position: a decimal string. At most 18 digits, so every value fits
 * Postgres' bigint (19 digits would admit 9223372036854775808 and up).
 */
export const PositionOf = (description = 'Global position in the event store') =>
  Type.String({ pattern: '^[0-9]{1,18}$', description });
export const Position = PositionOf();

export const minPosition = Type.Optional(
  PositionOf('Read-your-writes: wait (at most ~2 s) until the read model reflects this position'),
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Same key + same body → same response',
    }),
  ),
});

export const CommandResult = Type.Object({
  version: Type.Integer({ description: 'Stream version after the command' }),
  position: Type.Union([Position, Type.Null()], {
    description: 'Global position of the last event written (null if none)',
  }),
});

export const Links = Type.Record(Type.String(), Type.String());

/**
 * One of a fixed list of strings, as an OpenAPI `enum`. Give it the domain's `as const` list
 * (ORDER_STATUSES, ...), so the schema and the domain's union cannot drift apart.
 */
export const StringEnum = <const T extends string>(
  values: readonly T[],
  options?: { description?: string },
) => Type.Enum([...new Set(values)], options);

export type Schema = TSchema;

/**
 * A string or null, as `type: ['string', 'null']` rather than Type.Union's `anyOf`:
 * fast-json-stringify serializes the former directly, but picks an `anyOf` branch by running
 * a validator on every response.
 */
export const NullableString = (options: { description?: string } = {}) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });
