import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RecordedEvent } from '../../eventstore';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { problems } from '../schemas/common';
import { AllEvents, AllQuery, StreamEvents, StreamParams, StreamQuery } from '../schemas/events';

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

const POSITION = /^[0-9]{1,19}$/;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

export const eventRoutes: RoutePlugin = async (app, { deps, options }) => {
  /** Open SSE feeds, ended when the app closes so close() does not wait on them. */
  const feeds = new Set<AbortController>();
  app.addHook('onClose', async () => {
    for (const feed of feeds) feed.abort();
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
      const events = await deps.eventStore.readStream(streamId, {
        fromVersion,
        ...(toVersion !== undefined && { toVersion }),
      });
      if (events.length === 0 && (await deps.eventStore.streamVersion(streamId)) === 0) {
        throw notFound('Stream', streamId);
      }
      return { streamId, events: events.map(eventView) };
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'All events after a position, in an order catch-up readers can trust',
        description:
          'With `Accept: text/event-stream`: a live SSE feed (event id = global position) that resumes after `Last-Event-ID`.',
        querystring: AllQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: AllEvents },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
          ...problems(),
        },
      },
    },
    async (request, reply) => {
      const { after, limit } = request.query;
      if (request.headers.accept?.includes('text/event-stream')) {
        return streamEvents(request, reply, after, limit);
      }
      const page = await deps.eventStore.readAll({ after: BigInt(after), limit });
      return {
        events: page.events.map(eventView),
        lastPosition: page.lastPosition.toString(),
      };
    },
  );

  async function streamEvents(
    request: FastifyRequest,
    reply: FastifyReply,
    after: string,
    limit: number,
  ) {
    const lastEventId = request.headers['last-event-id'];
    let position = BigInt(after);
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      if (!POSITION.test(lastEventId)) {
        throw new HttpProblem(400, 'Bad Request', 'Last-Event-ID must be a global position', {
          code: 'VALIDATION',
          errors: [
            { field: 'last-event-id', in: 'headers', message: 'must be a decimal position' },
          ],
        });
      }
      position = BigInt(lastEventId);
    }
    const feed = new AbortController();
    feeds.add(feed);
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-correlation-id': request.id,
    });
    raw.write(`retry: 2000\n\n`);
    const stop = () => feed.abort();
    request.raw.on('close', stop);
    raw.on('close', stop);
    let lastWrite = Date.now();
    try {
      while (!feed.signal.aborted) {
        const page = await deps.eventStore.readAll({ after: position, limit });
        for (const event of page.events) {
          if (feed.signal.aborted) break;
          raw.write(
            `id: ${event.globalPosition}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`,
          );
        }
        position = page.lastPosition;
        if (page.events.length > 0) lastWrite = Date.now();
        else if (Date.now() - lastWrite >= options.sseHeartbeatMs) {
          raw.write(`: keep-alive\n\n`);
          lastWrite = Date.now();
        }
        // A full page: more is waiting, read on at once.
        if (page.events.length < limit) await sleep(options.ssePollMs, feed.signal);
      }
    } catch (error) {
      request.log.warn({ err: error }, 'event feed stopped');
    } finally {
      feeds.delete(feed);
      request.raw.off('close', stop);
      raw.off('close', stop);
      if (!raw.writableEnded) raw.end();
    }
    return reply;
  }
};
