import type { EventStore } from '../eventstore';
import type { RoutePlugin } from '../api/context';
import { SseFeeds } from '../api/sseFeed';
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

interface Page {
  messages: IntegrationMessage[];
  /** SSE blocks; only the last message of a source event carries an id (its position). */
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
  const translations = await translator.translatePage(read.events, (streamId, toVersion) =>
    store.readStream(streamId, { toVersion, sealedPersonalData: true }),
  );
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

/**
 * Pages and feed read where /events does: on the read side (a standby with
 * DATABASE_READ_URL, else the primary), the source streams' earlier events included.
 */
export const integrationRoutes: RoutePlugin = async (app, { deps, reads, options }) => {
  // Its facts cache serves every feed; each page reads the prefixes it misses from the
  // source it was read from (a standby that lags must not answer for the primary's page).
  const translator = new Translator(() => {
    throw new Error('integration feed: a page reads prefixes from its own source');
  });
  const read = (after: bigint, limit: number) =>
    reads.read(({ eventStore }) => readPage(eventStore, translator, after, limit));
  const feeds = new SseFeeds(app, {
    maxFeeds: deps.config.SSE_MAX_CONNECTIONS,
    ssePollMs: options.ssePollMs,
    sseHeartbeatMs: options.sseHeartbeatMs,
    readHead: () => reads.read(({ eventStore }) => eventStore.catchUpHead()),
    pagesRoute: 'GET /integration-events',
    name: 'integration feed',
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
      if (request.headers.accept?.includes('text/event-stream')) {
        // Up to date when a read moves the cursor no further.
        return feeds.serve(request, reply, BigInt(after), async (position) => {
          const page = await read(position, limit);
          return { ...page, caughtUp: page.lastPosition === position };
        });
      }
      const page = await read(BigInt(after), limit);
      return { messages: page.messages, lastPosition: page.lastPosition.toString() };
    },
  );
};
