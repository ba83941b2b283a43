import { PositionOf } from './common';
import { Type } from './typebox';

export const EventView = Type.Object({
  globalPosition: PositionOf(),
  streamId: Type.String(),
  streamType: Type.String(),
  version: Type.Integer(),
  eventId: Type.String(),
  type: Type.String(),
  schemaVersion: Type.Integer(),
  data: Type.Unknown(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String({ format: 'date-time' }),
});

export const StreamParams = Type.Object({
  streamId: Type.String({
    minLength: 1,
    maxLength: 300,
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]*$',
  }),
});

export const StreamQuery = Type.Object(
  {
    // Stream versions are Postgres integers.
    fromVersion: Type.Integer({ minimum: 1, maximum: 2_147_483_647, default: 1 }),
    toVersion: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  },
  { additionalProperties: false },
);

export const StreamEvents = Type.Object({
  streamId: Type.String(),
  archived: Type.Boolean({
    description:
      'The stream was archived (its aggregate finished): its events come from the archive, and it takes no more (an append is a 409 STREAM_ARCHIVED)',
  }),
  events: Type.Array(EventView),
});

export const AllQuery = Type.Object(
  {
    after: Type.String({
      pattern: '^[0-9]{1,18}$',
      default: '0',
      description:
        'Return events after this cursor: `lastPosition` of the previous page, or any global position (0: from the start). A position that is no event (a gap, past the head) returns only events above it.',
    }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

export const AllEvents = Type.Object({
  events: Type.Array(EventView),
  lastPosition: PositionOf('Pass as `after` to continue'),
});
