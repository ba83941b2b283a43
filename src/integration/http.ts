import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventStore } from '../eventstore';
import { CatchUpHeadWatcher } from '../api/catchUpHeadWatcher';
import type { RoutePlugin } from '../api/context';
import { HttpProblem } from '../api/plugins/problem';
import { problems } from '../api/schemas/common';
import { Type } from '../api/schemas/typebox';
import { buildAsyncApiDocument } from './asyncapi';
import type { IntegrationMessage } from './envelope';
import { messagesOf } from './relay/relay';
import { getRelayStatus } from './relay/status';
import { TRANSLATED_EVENT_TYPES, Translator } from './translation';

/**
 * The integration events over HTTP, for outside consumers that cannot reach NATS: the same
 * CloudEvents the relay publishes, translated from the store in catch-up order, as pages
 * (`after` = the previous page's lastPosition) or as a live SSE feed that resumes after
 * Last-Event-ID. Also /asyncapi.json and the relay's state (GET /admin/relay).
 */

const IntegrationQuery = Type.Object(
  {
    after: Type.String({
      pattern: '^[0-9]{1,18}$',
      default: '0',
      description:
        '`lastPosition` of the previous page (a global position of the event store; 0: from the start)',
    }),
    limit: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: 'Domain events read (each gives none, one or several messages)',
    }),
  },
  { additionalProperties: false },
);

const IntegrationPage = Type.Object({
  messages: Type.Array(Type.Unknown(), {
    description: 'CloudEvents 1.0 (structured JSON), as published to NATS; see /asyncapi.json',
  }),
  lastPosition: Type.String({ description: 'Pass as `after` to continue' }),
});

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);
const RelayStatusView = Type.Object({
  name: Type.String(),
  state: Type.Union([Type.Literal('running'), Type.Literal('failing'), Type.Literal('idle')]),
  checkpoint: Type.String({ description: 'Global position published up to' }),
  lagEvents: Type.Integer(),
  heldBackEvents: Type.Integer(),
  lagSeconds: Type.Number(),
  messagesPerSecond: Type.Number(),
  publishedTotal: Type.Integer(),
  duplicatesTotal: Type.Integer(),
  publishFailuresTotal: Type.Integer(),
  lastError: Nullable(Type.String()),
  lastErrorAt: Nullable(Type.String()),
  lastPublishedAt: Nullable(Type.String()),
  ownerPid: Type.Union([Type.Integer(), Type.Null()]),
});

const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

interface Page {
  messages: IntegrationMessage[];
  /** The SSE id after each source event's last message: its position. */
  blocks: string[];
  lastPosition: bigint;
}

async function readPage(
  store: EventStore,
  translator: Translator,
  after: bigint,
  limit: number,
): Promise<Page> {
  const read = await store.readAll({ after, limit, eventTypes: TRANSLATED_EVENT_TYPES });
  const page: Page = { messages: [], blocks: [], lastPosition: read.lastPosition };
  const translations = await translator.translatePage(read.events);
  for (const [index, event] of read.events.entries()) {
    const messages = messagesOf(event, translations[index]!).map((m) => m.message);
    // A reconnecting client resumes after the last id it saw: only the last message of an
    // event carries one, so a feed cut between two messages of one event replays both.
    messages.forEach((message, index) => {
      page.messages.push(message);
      const id = index === messages.length - 1 ? `id: ${event.globalPosition}\n` : '';
      page.blocks.push(`${id}event: ${message.type}\ndata: ${JSON.stringify(message)}\n\n`);
    });
  }
  return page;
}

function lastEventIdOf(request: FastifyRequest): bigint | undefined {
  const header = request.headers['last-event-id'];
  if (header === undefined || header === '') return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!/^[0-9]{1,18}$/.test(value))
    throw new HttpProblem(400, 'Bad Request', 'Last-Event-ID must be a global position', {
      code: 'VALIDATION',
      errors: [{ field: 'last-event-id', in: 'headers', message: 'must be a decimal position' }],
    });
  return BigInt(value);
}

export const integrationRoutes: RoutePlugin = async (app, { deps, options }) => {
  const translator = new Translator((streamId, toVersion) =>
    deps.eventStore.readStream(streamId, { toVersion, sealedPersonalData: true }),
  );
  const feeds = new Set<AbortController>();
  const head = new CatchUpHeadWatcher(
    () => deps.eventStore.catchUpHead(),
    options.ssePollMs,
    (error) => app.log.warn({ err: error }, 'integration feed head poll failed'),
  );
  app.addHook('onClose', async () => {
    head.close();
    for (const feed of feeds) feed.abort();
  });
  const asyncApi = buildAsyncApiDocument();

  app.get(
    '/asyncapi.json',
    {
      config: { access: 'public' },
      schema: {
        tags: ['integration'],
        summary: 'AsyncAPI 3 document of the integration-event contracts',
      },
    },
    async () => asyncApi,
  );

  app.get(
    '/admin/relay',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin', 'integration'],
        summary: 'The outbox relay: checkpoint, lag, throughput, failures',
        response: { 200: RelayStatusView, ...problems() },
      },
    },
    async () => getRelayStatus(deps.pool),
  );

  app.get(
    '/integration-events',
    {
      schema: {
        tags: ['integration'],
        summary:
          'Integration events (public contracts) after a position, for consumers outside NATS',
        description:
          'The CloudEvents the relay publishes to NATS, in the same order. With `Accept: text/event-stream`: a live SSE feed ' +
          '(SSE id = global position of the source event) that resumes after `Last-Event-ID` (or `after`); a consumer ' +
          'dedupes by the message `id`. Internal readers that need raw domain events use GET /events instead.',
        querystring: IntegrationQuery,
        response: {
          200: {
            content: {
              'application/json': { schema: IntegrationPage },
              'text/event-stream': { schema: { type: 'string' } },
            },
          },
          ...problems(503),
        },
      },
    },
    async (request, reply) => {
      const { after, limit } = request.query;
      if (request.headers.accept?.includes('text/event-stream'))
        return stream(request, reply, lastEventIdOf(request) ?? BigInt(after), limit);
      const page = await readPage(deps.eventStore, translator, BigInt(after), limit);
      return { messages: page.messages, lastPosition: page.lastPosition.toString() };
    },
  );

  async function stream(request: FastifyRequest, reply: FastifyReply, from: bigint, limit: number) {
    if (feeds.size >= deps.config.SSE_MAX_CONNECTIONS)
      throw new HttpProblem(503, 'Service Unavailable', 'Too many live feeds; retry later', {
        code: 'SSE_CAPACITY',
        headers: { 'retry-after': '5' },
      });
    const feed = new AbortController();
    feeds.add(feed);
    let position = from;
    let seen = head.version;
    let page: Page;
    try {
      page = await readPage(deps.eventStore, translator, position, limit);
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
    raw.write('retry: 2000\n\n');
    const stop = () => feed.abort();
    request.raw.on('close', stop);
    raw.on('close', stop);
    if (raw.destroyed || request.raw.destroyed) stop();
    let lastWrite = Date.now();
    try {
      while (!feed.signal.aborted) {
        for (const block of page.blocks) raw.write(block);
        if (raw.writableLength > MAX_UNREAD_BYTES) break; // it resumes with Last-Event-ID
        if (page.blocks.length > 0) lastWrite = Date.now();
        const caughtUp = page.lastPosition === position;
        position = page.lastPosition;
        if (caughtUp) {
          const untilHeartbeat = Math.max(0, lastWrite + options.sseHeartbeatMs - Date.now());
          await head.waitForChange(seen, untilHeartbeat, feed.signal);
          if (feed.signal.aborted) break;
          if (Date.now() - lastWrite >= options.sseHeartbeatMs) {
            raw.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        }
        seen = head.version;
        page = await readPage(deps.eventStore, translator, position, limit);
      }
    } catch (error) {
      request.log.warn({ err: error }, 'integration feed stopped');
    } finally {
      feeds.delete(feed);
      request.raw.off('close', stop);
      raw.off('close', stop);
      if (!raw.writableEnded) raw.end();
    }
    return reply;
  }
};
