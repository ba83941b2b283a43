import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RecordedEvent } from '../../eventstore';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { problems } from '../schemas/common';
import { AllEvents, AllQuery, StreamEvents, StreamParams, StreamQuery } from '../schemas/events';
import { SseFeeds } from '../sseFeed';

export function eventView(event: RecordedEvent) {
  return {
    globalPosition: event.globalPosition.toString(),
    streamId: event.streamId,
    streamType: event.streamType,
    version: event.version,
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    createdAt: event.createdAt.toISOString(),
  };
}

const sseBlock = (event: RecordedEvent) =>
  `id: ${event.globalPosition}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`;

export const eventRoutes: RoutePlugin = async (app, { deps, reads, options }) => {
  const feeds = new SseFeeds(app, {
    maxFeeds: deps.config.SSE_MAX_CONNECTIONS,
    ssePollMs: options.ssePollMs,
    sseHeartbeatMs: options.sseHeartbeatMs,
    readHead: () => reads.read(({ eventStore }) => eventStore.catchUpHead()),
    pagesRoute: 'GET /events',
    name: 'event feed',
  });

  app.get(
    '/streams/:streamId/events',
    {
      schema: {
        tags: ['events'],
        summary: "One stream's events in version order",
        params: StreamParams,
        querystring: StreamQuery,
        response: { 200: StreamEvents, ...problems(404) },
      },
    },
    async (request) => {
      const { streamId } = request.params;
      const { fromVersion, toVersion } = request.query;
      if (toVersion !== undefined && toVersion < fromVersion) {
        throw new HttpProblem(400, 'Bad Request', 'toVersion must be ≥ fromVersion', {
          code: 'VALIDATION',
          errors: [{ field: 'toVersion', in: 'querystring', message: 'must be >= fromVersion' }],
        });
      }
      const [events, archive] = await reads.read(({ eventStore }) =>
        Promise.all([
          eventStore.readStream(streamId, {
            fromVersion,
            ...(toVersion !== undefined && { toVersion }),
          }),
          eventStore.archivedStream(streamId),
        ]),
      );
      if (
        events.length === 0 &&
        (await reads.read(({ eventStore }) => eventStore.streamVersion(streamId))) === 0
      ) {
        throw notFound('Stream', streamId);
      }
      return { streamId, archived: archive !== undefined, events: events.map(eventView) };
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'All events after a position, in an order catch-up readers can trust',
        description:
          'With `Accept: text/event-stream`: a live SSE feed (event id = global position) that resumes after `Last-Event-ID` (or `after`). ' +
          'Any cursor is safe: one that is no event position (a gap, past the head) delivers only what comes after it. ' +
          'A server serves at most SSE_MAX_CONNECTIONS feeds; beyond that it answers 503 with Retry-After.',
        querystring: AllQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: AllEvents },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
          ...problems(503),
        },
      },
    },
    async (request, reply) => {
      const { after, limit } = request.query;
      if (request.headers.accept?.includes('text/event-stream')) {
        return streamEvents(request, reply, after, limit);
      }
      const page = await reads.read(({ eventStore }) =>
        eventStore.readAll({ after: BigInt(after), limit }),
      );
      return {
        events: page.events.map(eventView),
        lastPosition: page.lastPosition.toString(),
      };
    },
  );

  /** Less than a full page: up to date. */
  function streamEvents(
    request: FastifyRequest,
    reply: FastifyReply,
    after: string,
    limit: number,
  ) {
    return feeds.serve(request, reply, BigInt(after), async (position) => {
      const page = await reads.read(({ eventStore }) =>
        eventStore.readAll({ after: position, limit }),
      );
      return {
        blocks: page.events.map(sseBlock),
        lastPosition: page.lastPosition,
        caughtUp: page.events.length < limit,
      };
    });
  }
};
