import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CatchUpHeadWatcher } from './catchUpHeadWatcher';
import { HttpProblem } from './plugins/problem';

/**
 * Live SSE feeds over the event store's catch-up order, shared by GET /events (raw domain
 * events) and GET /integration-events (contracts): Last-Event-ID, the capacity limit, one
 * head watcher for every feed that is up to date, heartbeats, and the drop of a client that
 * does not read.
 */

/** Postgres bigint's largest value: a larger position would fail in the query, too late. */
const MAX_POSITION = 9_223_372_036_854_775_807n;
/** Bytes written to an SSE client and not yet taken by it, beyond which the feed ends. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** Seconds a client turned away for capacity is told to wait before reconnecting. */
const RETRY_AFTER_SECONDS = 5;

/** The Last-Event-ID header as a position, or undefined when absent; 400 when malformed. */
export function lastEventIdOf(request: FastifyRequest): bigint | undefined {
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

/** One page of a feed, already rendered. */
export interface SsePage {
  /** SSE blocks (`id: …\nevent: …\ndata: …\n\n`), in order. */
  blocks: readonly string[];
  /** Where the next page starts. */
  lastPosition: bigint;
  /** The page reached the head: wait for it to move before reading again. */
  caughtUp: boolean;
}

export interface SseFeedSettings {
  /** Feeds served at once; beyond that a 503 with Retry-After. */
  maxFeeds: number;
  ssePollMs: number;
  sseHeartbeatMs: number;
  /** The catch-up head, read where the pages are (the read side). */
  readHead: () => Promise<bigint>;
  /** Where a client turned away reads pages instead, e.g. `GET /events`. */
  pagesRoute: string;
  /** For logs, e.g. `event feed`. */
  name: string;
}

/** The live feeds of one route: register once per plugin, then `serve` each SSE request. */
export class SseFeeds {
  /** Open feeds, ended when the app closes so close() does not wait on them. */
  private readonly feeds = new Set<AbortController>();
  private readonly head: CatchUpHeadWatcher;

  constructor(
    app: FastifyInstance,
    private readonly settings: SseFeedSettings,
  ) {
    this.head = new CatchUpHeadWatcher(settings.readHead, settings.ssePollMs, (error) =>
      app.log.warn({ err: error }, `${settings.name} head poll failed`),
    );
    app.addHook('onClose', async () => {
      this.head.close();
      for (const feed of this.feeds) feed.abort();
    });
  }

  /** Serves a feed from `from` (Last-Event-ID wins) until the client leaves or the app closes. */
  async serve(
    request: FastifyRequest,
    reply: FastifyReply,
    from: bigint,
    readPage: (after: bigint) => Promise<SsePage>,
  ): Promise<FastifyReply> {
    // Everything that can fail with a 4xx or 5xx is settled before the 200 goes out.
    let position = lastEventIdOf(request) ?? from;
    if (this.feeds.size >= this.settings.maxFeeds) throw this.tooManyFeeds();
    const feed = new AbortController();
    this.feeds.add(feed);
    let seen = this.head.version;
    let page: SsePage;
    try {
      page = await readPage(position);
    } catch (error) {
      this.feeds.delete(feed);
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
    const { sseHeartbeatMs } = this.settings;
    try {
      while (!feed.signal.aborted) {
        for (const block of page.blocks) {
          if (feed.signal.aborted) break;
          raw.write(block);
        }
        // A client that does not read would make us buffer the log for it: drop it instead;
        // it resumes with Last-Event-ID when it reconnects.
        if (raw.writableLength > MAX_UNREAD_BYTES) {
          request.log.warn(
            { buffered: raw.writableLength },
            `${this.settings.name} client is not reading`,
          );
          break;
        }
        position = page.lastPosition;
        if (page.blocks.length > 0) lastWrite = Date.now();
        // Up to date: wait for the shared watcher (or the heartbeat, which also re-reads in
        // case the watcher's polls are failing).
        if (page.caughtUp) {
          const untilHeartbeat = Math.max(0, lastWrite + sseHeartbeatMs - Date.now());
          await this.head.waitForChange(seen, untilHeartbeat, feed.signal);
          if (feed.signal.aborted) break;
          if (Date.now() - lastWrite >= sseHeartbeatMs) {
            raw.write(`: keep-alive\n\n`);
            lastWrite = Date.now();
          }
        }
        seen = this.head.version;
        page = await readPage(position);
      }
    } catch (error) {
      request.log.warn({ err: error }, `${this.settings.name} stopped`);
    } finally {
      this.feeds.delete(feed);
      request.raw.off('close', stop);
      raw.off('close', stop);
      if (!raw.writableEnded) raw.end();
    }
    return reply;
  }

  private tooManyFeeds(): HttpProblem {
    const { maxFeeds, pagesRoute } = this.settings;
    return new HttpProblem(
      503,
      'Service Unavailable',
      `This server already serves its ${maxFeeds} live feeds; retry later or read pages of ${pagesRoute}`,
      { code: 'SSE_CAPACITY', headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
    );
  }
}
