import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReadAllResult, RecordedEvent } from '../../eventstore';
import type { RoutePlugin } from '../context';
import { HttpProblem, notFound } from '../plugins/problem';
import { problems } from '../schemas/common';
import { AllEvents, AllQuery, StreamEvents, StreamParams, StreamQuery } from '../schemas/events';
import { CatchUpHeadWatcher } from '../catchUpHeadWatcher';

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

/** Postgres bigint's largest value: a larger position would fail in the query, too late. */
const MAX_POSITION = 9_223_372_036_854_775_807n;
/** Bytes written to an SSE client and not yet taken by it, beyond which the feed ends. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** Seconds a client turned away for capacity is told to wait before reconnecting. */
const RETRY_AFTER_SECONDS = 5;

/** The Last-Event-ID header as a position, or undefined when absent; 400 when malformed. */
function lastEventIdOf(request: FastifyRequest): bigint | undefined {
  const header = request.headers['last-event-id'];
  if (header === undefined || header === '') return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!/^[0-9]{1,19}$/.test(value) || BigInt(value) > MAX_POSITION) {
    throw new HttpProblem(400, 'Bad Request', 'Last-Event-ID must be a global position', {
      code: 'VALIDATION',
      errors: [
        {
          field: 'last-event-id',
          in: 'headers',
          message: `must be a decimal position from 0 to ${MAX_POSITION}`,
        },
      ],
    });
  }
  return BigInt(value);
}

function tooManyFeeds(max: number): HttpProblem {
  return new HttpProblem(
    503,
    'Service Unavailable',
    `This server already serves its ${max} live event feeds; retry later or read pages of GET /events`,
    { code: 'SSE_CAPACITY', headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
  );
}

const sseBlock = (event: RecordedEvent) =>
  `id: ${event.globalPosition}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`;

export const eventRoutes: RoutePlugin = async (app, { deps, reads, options }) => {
  /** Open SSE feeds, ended when the app closes so close() does not wait on them. */
  const feeds = new Set<AbortController>();
  const maxFeeds = deps.config.SSE_MAX_CONNECTIONS;
  const head = new CatchUpHeadWatcher(
    () => reads.read(({ eventStore }) => eventStore.catchUpHead()),
    options.ssePollMs,
    (error) => app.log.warn({ err: error }, 'event feed head poll failed'),
  );
  app.addHook('onClose', async () => {
    head.close();
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

  async function streamEvents(
    request: FastifyRequest,
    reply: FastifyReply,
    after: string,
    limit: number,
  ) {
    // Everything that can fail with a 4xx or 5xx is settled before the 200 goes out.
    let position = lastEventIdOf(request) ?? BigInt(after);
    if (feeds.size >= maxFeeds) throw tooManyFeeds(maxFeeds);
    const feed = new AbortController();
    feeds.add(feed);
    let seen = head.version;
    let page: ReadAllResult;
    const readPage = () =>
      reads.read(({ eventStore }) => eventStore.readAll({ after: position, limit }));
    try {
      page = await readPage();
    } catch (error) {
      feeds.delete(feed);
      throw error;
    }

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
    // A client that left during the first read has already fired 'close'.
    if (raw.destroyed || request.raw.destroyed) stop();
    let lastWrite = Date.now();
    try {
      while (!feed.signal.aborted) {
        for (const event of page.events) {
          if (feed.signal.aborted) break;
          raw.write(sseBlock(event));
        }
        // A client that does not read would make us buffer the log for it: drop it instead;
        // it resumes with Last-Event-ID when it reconnects.
        if (raw.writableLength > MAX_UNREAD_BYTES) {
          request.log.warn({ buffered: raw.writableLength }, 'event feed client is not reading');
          break;
        }
        position = page.lastPosition;
        if (page.events.length > 0) lastWrite = Date.now();
        // Less than a full page: up to date, so wait for the shared watcher (or the
        // heartbeat, which also re-reads in case the watcher's polls are failing).
        if (page.events.length < limit) {
          const untilHeartbeat = Math.max(0, lastWrite + options.sseHeartbeatMs - Date.now());
          await head.waitForChange(seen, untilHeartbeat, feed.signal);
          if (feed.signal.aborted) break;
          if (Date.now() - lastWrite >= options.sseHeartbeatMs) {
            raw.write(`: keep-alive\n\n`);
            lastWrite = Date.now();
          }
        }
        seen = head.version;
        page = await readPage();
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
