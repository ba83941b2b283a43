import { PROJECTION_STATES } from '../../projections/status';
import { Id, NullableString, PositionOf, StringEnum } from './common';
import { Type } from './typebox';

export const ProjectionParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' }),
});

export const ReaderHolder = Type.Object(
  {
    xid: Type.String(),
    xidAge: Type.Integer({ description: 'Transactions started on the server since' }),
    pid: Type.Union([Type.Integer(), Type.Null()], {
      description: 'pg_terminate_backend(pid) ends it',
    }),
    database: Type.Union([Type.String(), Type.Null()], {
      description: 'Any database of the server holds readers back',
    }),
    applicationName: Type.Union([Type.String(), Type.Null()]),
    state: Type.Union([Type.String(), Type.Null()], {
      description: 'active, idle in transaction, prepared; null when not visible to this role',
    }),
    ageSeconds: Type.Union([Type.Number(), Type.Null()], {
      description: 'null when not visible to this role',
    }),
    preparedTransaction: Type.Union([Type.String(), Type.Null()], {
      description: 'gid of a prepared transaction',
    }),
  },
  { description: 'The oldest transaction running on the Postgres server' },
);

/** A projection's status (src/projections/status.ts ProjectionStatus), and whether this API rebuilds it. */
export const ProjectionStatusView = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  generation: Type.Integer(),
  checkpoint: PositionOf('Global position applied up to'),
  lagEvents: Type.Integer(),
  heldBackEvents: Type.Integer(),
  lagSeconds: Type.Number(),
  eventsPerSecond: Type.Number(),
  state: StringEnum(PROJECTION_STATES),
  error: Type.Union([
    Type.Object({
      position: PositionOf('The event the projection is stuck on: skip it with this'),
      eventId: NullableString(),
      eventType: NullableString(),
      message: Type.String(),
      attempts: Type.Integer(),
      since: NullableString(),
      lastErrorAt: NullableString(),
      nextRetryAt: NullableString(),
    }),
    Type.Null(),
  ]),
  errorsTotal: Type.Integer(),
  lastErrorAt: NullableString(),
  rebuild: Type.Union([
    Type.Object({ generation: Type.Integer(), version: Type.Integer(), checkpoint: PositionOf() }),
    Type.Null(),
  ]),
  segments: Type.Union(
    [
      Type.Array(
        Type.Object({
          segment: Type.Integer(),
          checkpoint: PositionOf('Global position this segment applied up to'),
          lagEvents: Type.Integer(),
          lagSeconds: Type.Number(),
          eventsPerSecond: Type.Number(),
          state: StringEnum(PROJECTION_STATES),
          ownerPid: Type.Union([Type.Integer(), Type.Null()], {
            description: 'Backend pid of the owning runner connection',
          }),
          owner: NullableString(),
          rebuildCheckpoint: Type.Union([PositionOf(), Type.Null()]),
        }),
      ),
      Type.Null(),
    ],
    {
      description:
        'Segments of a projection split by stream (PROJECTION_SEGMENTS); null if not split',
    },
  ),
  rebuilding: Type.Boolean({ description: 'A rebuild this API process started is running' }),
});

export const ProjectionStatuses = Type.Object({
  projections: Type.Array(ProjectionStatusView),
  readerHoldback: Type.Object(
    {
      heldBackEvents: Type.Integer({
        description: 'Committed events no catch-up reader can see until the holder ends',
      }),
      oldestTransactionAgeSeconds: Type.Number(),
      holder: Type.Union([ReaderHolder, Type.Null()]),
    },
    {
      description:
        'Catch-up readers only see transactions below the oldest running one, server-wide',
    },
  ),
});

export const SkipEventBody = Type.Object(
  {
    position: Type.Union(
      [
        PositionOf('Global position of the event the projection is stuck on'),
        Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      ],
      {
        description:
          'Global position of the event the projection is stuck on (status error.position)',
      },
    ),
    reason: Type.String({
      minLength: 1,
      maxLength: 2000,
      pattern: '\\S',
      description: 'Why it is skipped (kept in the dead-letter row)',
    }),
  },
  { additionalProperties: false },
);

export const DeadLetter = Type.Object({
  id: Type.String(),
  projection: Type.String(),
  eventId: Type.String(),
  position: Type.String(),
  eventType: Type.String(),
  error: Type.String(),
  reason: Type.String(),
  skippedBy: Type.String(),
  skippedAt: Type.String({ format: 'date-time' }),
});

export const DeadLetters = Type.Object({ deadLetters: Type.Array(DeadLetter) });

export const RebuildAccepted = Type.Object({
  name: Type.String(),
  status: Type.Literal('rebuilding'),
});

export const Health = Type.Object({ status: Type.Literal('ok') });

export const Readiness = Type.Object({
  status: StringEnum(['ready', 'degraded', 'unavailable']),
  checks: Type.Record(
    Type.String(),
    Type.Object({
      ok: Type.Boolean(),
      error: Type.Optional(Type.String({ description: 'Generic reason (`unavailable`)' })),
      detail: Type.Optional(
        Type.String({ description: 'The raw cause, only for a request with an admin key' }),
      ),
    }),
  ),
});

export const CustomerParams = Type.Object({ id: Id('Customer id') });

export const PersonalDataErased = Type.Object({
  customerId: Type.String(),
  erased: Type.Literal(true),
  /** False when the customer had no personal data stored (erasure is idempotent). */
  keyExisted: Type.Boolean(),
});

export const EventSchemaCatalogue = Type.Object({
  eventTypes: Type.Array(
    Type.Object({
      type: Type.String({ description: 'Event type, e.g. OrderPlaced' }),
      currentVersion: Type.Integer({
        minimum: 1,
        description: 'The version appends are stored at and reads are upcast to',
      }),
      versions: Type.Array(
        Type.Object({
          version: Type.Integer({ minimum: 1 }),
          schema: Type.Record(Type.String(), Type.Unknown(), {
            description: "JSON Schema of the event's data at this version",
          }),
        }),
      ),
    }),
  ),
});
