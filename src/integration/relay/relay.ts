import { Client, type Pool } from 'pg';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventStore, RecordedEvent } from '../../eventstore';
import { advisoryUnlock, tryAdvisoryLock } from '../../projections/checkpoints';
import { EVENTS_CHANNEL } from '../../projections/runner';
import { contractOf } from '../contracts';
import {
  buildMessage,
  contractProblems,
  ContractViolationError,
  type IntegrationMessage,
} from '../envelope';
import { TRANSLATED_EVENT_TYPES, Translator } from '../translation';
import {
  advanceRelayCheckpoint,
  DEFAULT_RELAY,
  ensureRelayCheckpoint,
  readRelayCheckpoint,
  recordPublishFailure,
  recordRelayRate,
  relayOwnerLockKey,
} from './checkpoint';
import { CheckpointChain } from './checkpointChain';
import { OrderedPublisher, outgoing, type OutgoingMessage } from './publisher';

export interface RelayOptions {
  pool: Pool;
  eventStore: EventStore;
  nats: NatsConnection;
  /** Checkpoint row (default `nats`). */
  name?: string;
  /** Domain events read per step (default 1000). */
  batchSize?: number;
  /** Publishes awaiting their PubAck at once (default 256). */
  window?: number;
  /** How long one PubAck may take (default 5000 ms). */
  ackTimeoutMs?: number;
  /** Fallback poll when no notification arrives, also the takeover period (default 1000 ms). */
  pollIntervalMs?: number;
  /** Longest wait between retries of a failing step (default 5000 ms). */
  retryMaxMs?: number;
  /** Streams whose facts the translator keeps (default DEFAULT_FACTS_CACHE_SIZE). */
  factsCacheSize?: number;
  /** Opens the dedicated owner connection (and the LISTEN one). */
  connect?: () => Promise<Client>;
  /** Test hook: every message of a step was acknowledged, the checkpoint is not written yet. */
  beforeCheckpoint?: (messages: readonly IntegrationMessage[]) => void | Promise<void>;
  log?: (message: string, error?: unknown) => void;
}

const RATE_WINDOW_MS = 10_000;
/** Events turned into messages between two turns of the event loop. */
const PREPARE_SLICE = 100;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Pages published and not checkpointed yet, at most. */
const PAGES_PAST_CHECKPOINT = 3;
/** First look again when committed events wait behind an open transaction (then doubling). */
const HELD_BACK_FIRST_RETRY_MS = 10;

/** A page read and translated, ready to publish. */
interface PreparedPage {
  after: bigint;
  lastPosition: bigint;
  messages: OutgoingMessage[];
}

/** What one domain event becomes (several messages, or none). */
export function messagesOf(
  event: RecordedEvent,
  translations: Awaited<ReturnType<Translator['translate']>>,
): OutgoingMessage[] {
  const traceparent = event.metadata.traceparent;
  return translations.map((translation) => {
    const message = buildMessage(translation.type, translation.aggregateId, translation.data, {
      eventId: event.eventId,
      streamId: event.streamId,
      version: event.version,
      globalPosition: event.globalPosition,
      occurredAt: event.createdAt,
      ...(typeof event.metadata.correlation_id === 'string' && {
        correlationId: event.metadata.correlation_id,
      }),
      ...(typeof event.metadata.causation_id === 'string' && {
        causationId: event.metadata.causation_id,
      }),
      ...(typeof traceparent === 'string' && { traceparent }),
    });
    const problems = contractProblems(message);
    if (problems.length > 0) throw new ContractViolationError(message.type, problems);
    return outgoing(message, contractOf(translation.type).aggregate);
  });
}

/**
 * The outbox relay. The events table is the outbox: the append transaction is the only
 * write, and the relay reads it in the store's catch-up order (readAll: only finished
 * transactions, so nothing committed later can sort before its checkpoint). Per step it
 * translates a page of domain events into contracts, publishes them with Nats-Msg-Id =
 * message id, waits for every PubAck, then advances its checkpoint.
 *
 * A crash between PubAck and checkpoint re-publishes the page: JetStream drops the repeats
 * inside its duplicate window, and consumers' inboxes (keyed by message id) drop any later.
 * One owner at a time: a session advisory lock on a dedicated connection; when its process
 * dies, the lock goes with the connection and another relay takes over within a poll.
 */
export class IntegrationRelay {
  private readonly name: string;
  private readonly js: JetStreamClient;
  private readonly translator: Translator;
  private readonly pollIntervalMs: number;
  private readonly log: (message: string, error?: unknown) => void;
  private stopped = true;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private wakePending = false;
  private listener: Client | undefined;
  private listenerRetry: NodeJS.Timeout | undefined;
  private recent: Array<{ at: number; messages: number }> = [];
  private lastRateWrite = 0;
  /** The checkpoint as the last step left it. */
  private position = 0n;
  private heldBackRetryMs = HELD_BACK_FIRST_RETRY_MS;
  /** The next page, read while the current one publishes. */
  private ahead: { after: bigint; page: Promise<PreparedPage> } | undefined;
  /** Whether this relay holds the owner lock now. */
  owned = false;

  constructor(private readonly options: RelayOptions) {
    this.name = options.name ?? DEFAULT_RELAY;
    this.js = jetstream(options.nats);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.log = options.log ?? (() => {});
    this.translator = new Translator(
      (streamId, toVersion) =>
        options.eventStore.readStream(streamId, { toVersion, sealedPersonalData: true }),
      options.factsCacheSize,
    );
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.listen();
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.listenerRetry);
    this.wake?.();
    await this.loopDone;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** Wakes the loop (as an append's notification does). */
  poke(): void {
    this.wakePending = true;
    this.wake?.();
  }

  private connect(): Promise<Client> {
    if (this.options.connect) return this.options.connect();
    const client = new Client({ ...this.options.pool.options, application_name: 'sagaflow-relay' });
    return client.connect().then(() => client);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = await this.connect();
      client.on('notification', () => this.poke());
      client.on('error', (error) => {
        this.log('relay: LISTEN connection lost; polling until it is back', error);
        if (this.listener === client) this.listener = undefined;
        client.end().catch(() => undefined);
        this.listenerRetry = setTimeout(() => void this.listen(), this.pollIntervalMs);
      });
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.listener = client;
      this.poke();
    } catch (error) {
      this.log('relay: could not LISTEN; polling', error);
      this.listenerRetry = setTimeout(() => void this.listen(), this.pollIntervalMs);
    }
  }

  private wait(ms = this.pollIntervalMs): Promise<void> {
    if (this.wakePending || this.stopped) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.wakePending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    let conn: Client | undefined;
    let broken = false;
    let failures = 0;
    const drop = async () => {
      const old = conn;
      conn = undefined;
      if (this.owned) this.log('relay: lost ownership');
      this.owned = false;
      await old?.end().catch(() => undefined);
    };
    while (!this.stopped) {
      try {
        if (conn && broken) await drop();
        if (!conn) {
          broken = false;
          const client = await this.connect();
          client.on('error', () => (broken = true));
          client.on('end', () => (broken = true));
          conn = client;
          await this.reapWhenSilent(client);
        }
        if (!this.owned) {
          this.owned = await tryAdvisoryLock(conn, relayOwnerLockKey(this.name));
          if (!this.owned) {
            await this.wait();
            continue;
          }
          await ensureRelayCheckpoint(conn, this.name);
          this.log('relay: owned by this process');
        }
        const published = await this.step(conn);
        failures = 0;
        if (published === undefined) {
          await this.trackRate(conn, undefined);
          await this.wait(await this.idleWaitMs());
        } else {
          this.heldBackRetryMs = HELD_BACK_FIRST_RETRY_MS;
        }
      } catch (error) {
        this.ahead = undefined;
        if (this.stopped) break;
        failures++;
        const delay = Math.min(this.options.retryMaxMs ?? 5000, 100 * 2 ** Math.min(failures, 10));
        this.log(`relay: ${messageOf(error)}; retry ${failures} in ${delay} ms`, error);
        if (conn && !broken) {
          await recordPublishFailure(conn, this.name, messageOf(error)).catch(() => {
            broken = true;
          });
        }
        await this.wait(delay);
      }
    }
    if (conn && this.owned && !broken) {
      await advisoryUnlock(conn, relayOwnerLockKey(this.name)).catch(() => undefined);
    }
    await drop();
  }

  /**
   * Publishes from the checkpoint to the head, page after page, through one publish window:
   * a page goes out while the last PubAcks of the one before are on their way, and the page
   * after it is read and translated meanwhile (Postgres, NATS and this process work at once).
   * A page's checkpoint is written once every message of it, and of every page before it,
   * is acknowledged: the writes are chained in page order, off the publishing path.
   * Returns the messages acknowledged, or undefined when there was nothing new.
   */
  private async step(conn: Client): Promise<number | undefined> {
    const checkpoint = await readRelayCheckpoint(conn, this.name);
    const publisher = new OrderedPublisher(this.js, {
      window: this.options.window ?? 256,
      ackTimeoutMs: this.options.ackTimeoutMs ?? 5000,
    });
    const checkpoints = new CheckpointChain();
    let position = checkpoint.position;
    try {
      while (!this.stopped && checkpoints.going) {
        // A crash re-publishes what is past the checkpoint: keep that to a few pages, also
        // when checkpoint writes are slow or stuck.
        await checkpoints.fewerThan(PAGES_PAST_CHECKPOINT);
        if (!checkpoints.going) break;
        const page = await this.pageAfter(position);
        if (page.lastPosition === position) break;
        const sent = await publisher.send(page.messages);
        const from = position;
        position = page.lastPosition;
        checkpoints.add(async () => {
          const result = await sent.acked;
          await this.options.beforeCheckpoint?.(page.messages.map((m) => m.message));
          if (!(await advanceRelayCheckpoint(conn, this.name, from, page.lastPosition, result))) {
            this.log('relay: the checkpoint moved under this relay; reading again');
            return undefined;
          }
          await this.trackRate(conn, result.acked);
          return result.acked;
        });
      }
    } finally {
      // After a publish failure: the pages acknowledged before it still get their checkpoint.
      await checkpoints.settled();
    }
    this.position = position;
    if (position === checkpoint.position) return undefined;
    return checkpoints.done();
  }

  /**
   * How long to wait for a notification when there was nothing to publish. Committed events
   * past the checkpoint that the catch-up order does not hand out yet wait behind an older
   * transaction that is still open (on any database of the server: transaction ids are the
   * server's). Their notification has come and gone, and such a transaction usually ends
   * within milliseconds: look again soon, doubling up to the poll interval, instead of a
   * whole poll later.
   */
  private async idleWaitMs(): Promise<number> {
    const head = await this.options.eventStore.headPosition();
    if (head <= this.position) {
      this.heldBackRetryMs = HELD_BACK_FIRST_RETRY_MS;
      return this.pollIntervalMs;
    }
    const delay = Math.min(this.heldBackRetryMs, this.pollIntervalMs);
    this.heldBackRetryMs = Math.min(this.pollIntervalMs, this.heldBackRetryMs * 2);
    return delay;
  }

  /** The page after `position`: the one read ahead when it starts there, and reads the next. */
  private async pageAfter(position: bigint): Promise<PreparedPage> {
    const ahead = this.ahead;
    this.ahead = undefined;
    let page = ahead?.after === position ? await ahead.page : undefined;
    if (!page || page.lastPosition === page.after) page = await this.prepare(position);
    if (page.lastPosition !== position) {
      const next = this.prepare(page.lastPosition);
      next.catch(() => undefined); // a failure shows when (if) the page is used
      this.ahead = { after: page.lastPosition, page: next };
    }
    return page;
  }

  /** Reads and translates the page after `after` (catch-up order). */
  private async prepare(after: bigint): Promise<PreparedPage> {
    const read = await this.options.eventStore.readAll({
      after,
      limit: this.options.batchSize ?? 1000,
      eventTypes: TRANSLATED_EVENT_TYPES,
    });
    const translations = await this.translator.translatePage(read.events);
    const messages: OutgoingMessage[] = [];
    for (let index = 0; index < read.events.length; index++) {
      // Let PubAcks in between: a page's messages take tens of milliseconds to build, and a
      // publish window that waits on them meanwhile is NATS idle.
      if (index % PREPARE_SLICE === PREPARE_SLICE - 1) await yieldToEventLoop();
      messages.push(...messagesOf(read.events[index]!, translations[index]!));
    }
    return { after, lastPosition: read.lastPosition, messages };
  }

  /** As the projection runner does: a half-open owner connection must not keep the lock. */
  private async reapWhenSilent(conn: Client): Promise<void> {
    const timeout = Math.max(10_000, 5 * this.pollIntervalMs);
    await conn
      .query("SELECT set_config('idle_session_timeout', $1, false)", [String(timeout)])
      .catch((error: unknown) => this.log('relay: no idle_session_timeout on this server', error));
  }

  private async trackRate(conn: Client, published: number | undefined): Promise<void> {
    const now = Date.now();
    if (published) this.recent.push({ at: now, messages: published });
    while (this.recent.length > 0 && this.recent[0]!.at < now - RATE_WINDOW_MS) this.recent.shift();
    if (now - this.lastRateWrite < 1000 && published) return;
    if (!published && this.lastRateWrite === -1) return;
    const messages = this.recent.reduce((sum, entry) => sum + entry.messages, 0);
    const span = Math.max(1000, now - (this.recent[0]?.at ?? now));
    const rate = messages === 0 ? 0 : (messages * 1000) / span;
    await recordRelayRate(conn, this.name, rate);
    this.lastRateWrite = rate === 0 ? -1 : now;
  }
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
