import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Pool } from 'pg';
import type { EventStore, RecordedEvent } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import {
  advisoryUnlock,
  ensureProjection,
  ownerLockKey,
  readCheckpoint,
  rebuildLockKey,
  recordNextRetry,
  recordRate,
  segmentCheckpointName,
  tryAdvisoryLock,
} from './checkpoints';
import { RETRY_CHANNEL } from './deadLetters';
import {
  messageOf,
  ProjectionFailedError,
  runStep,
  wholeProjection,
  type StepTarget,
} from './engine';
import { engineOptions, runRebuild } from './rebuild';
import { RunnerHeartbeat, segmentCountOf } from './runnerHeartbeat';
import type { Projection } from './types';

/** The channel append_to_stream notifies (see the event-store migration). */
export const EVENTS_CHANNEL = 'sagaflow_events';

/** Delay before the n-th (1-based) slow retry of a failing projection: doubling, capped. */
export const failureRetryDelay = (round: number, baseMs: number, maxMs: number): number =>
  Math.min(maxMs, baseMs * 2 ** Math.min(round - 1, 30));

export interface ProjectionRunnerOptions {
  pool: Pool;
  /** The process's store (upcasters, schemas, personal data): events are read through it. */
  eventStore: EventStore;
  projections?: readonly Projection[];
  /** Events per transaction (default 1000). */
  batchSize?: number;
  /** Fallback poll when no notification arrives, also the takeover period (default 1000 ms). */
  pollIntervalMs?: number;
  /** Quick attempts at a failing event before the projection counts as failing (default 5). */
  maxAttempts?: number;
  /** First quick-retry delay, doubling per attempt (default 200 ms). */
  retryBaseMs?: number;
  /** A failing projection then retries one attempt at a time, first after this (default 1 s)… */
  failureRetryBaseMs?: number;
  /** …doubling up to this (default 60 s; PROJECTION_RETRY_MAX_MS). */
  failureRetryMaxMs?: number;
  /**
   * The server ends an owner connection idle this long (idle_session_timeout), releasing its
   * lock when the runner's host or network vanished without a FIN; the runner itself never
   * leaves it idle longer than a poll interval. Default: max(10 s, 5 poll intervals).
   */
  ownerIdleTimeoutMs?: number;
  /**
   * Segments of the projections that do not set their own (PROJECTION_SEGMENTS; default 1).
   * Every runner of a database must be given the same.
   */
  segments?: number;
  /** Opens a dedicated connection (one per projection or segment, plus one for LISTEN). */
  connect?: () => Promise<Client>;
  /** Test hook: after the handler ran, before the checkpoint is written and committed. */
  beforeCheckpoint?: (projection: string, events: readonly RecordedEvent[]) => void | Promise<void>;
  log?: (message: string, error?: unknown) => void;
}

interface Worker {
  projection: Projection;
  /** The checkpoint row it moves (a segment's, or the projection's own). */
  target: StepTarget;
  /** The projection's segment count. */
  segments: number;
  /** Asked to give its lock up: this runner owns more than its share. */
  releasing: boolean;
  wakePending: boolean;
  wake?: () => void;
  done?: Promise<void>;
  owned: boolean;
  /** Failed retries in a row (0: healthy). */
  failureRounds: number;
  /** Waiting out a failure backoff: new events do not wake it, a skip or stop does. */
  backingOff: boolean;
  recent: Array<{ at: number; events: number }>;
  lastRateWrite: number;
}

const RATE_WINDOW_MS = 10_000;

/** One loop for a whole projection, or one per segment of a split one. */
function workersOf(projection: Projection, segments: number): Worker[] {
  const targets: StepTarget[] =
    segments > 1
      ? Array.from({ length: segments }, (_, index) => ({
          checkpoint: segmentCheckpointName(projection.name, index),
          segment: { index, count: segments },
        }))
      : [wholeProjection(projection)];
  return targets.map((target) => ({
    projection,
    target,
    segments,
    releasing: false,
    wakePending: false,
    owned: false,
    failureRounds: 0,
    backingOff: false,
    recent: [],
    lastRateWrite: 0,
  }));
}

/**
 * Catch-up runner: one loop per projection (or per segment of a split one), each on a
 * dedicated connection that holds its checkpoint's session-level advisory lock (one owner
 * at a time across processes) and runs its short batch transactions. When that connection
 * dies, the lock goes with it and another runner takes over within a poll interval. Runners
 * share the loops: each owns at most its share, ceil(loops / live runners) (heartbeats in
 * projection_runners), and gives up extras one per poll interval. Loops wake on LISTEN
 * sagaflow_events, re-read until nothing is left, and poll as a fallback.
 */
export class ProjectionRunner {
  private readonly pool: Pool;
  private readonly store: EventStore;
  private readonly pollIntervalMs: number;
  private readonly ownerIdleTimeoutMs: number;
  private readonly workers: Worker[];
  private readonly log: (message: string, error?: unknown) => void;
  private listener: Client | undefined;
  private listenerRetry: NodeJS.Timeout | undefined;
  private readonly heartbeat: RunnerHeartbeat;
  private stopped = true;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.pool = options.pool;
    this.store = options.eventStore;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.ownerIdleTimeoutMs =
      options.ownerIdleTimeoutMs ?? Math.max(10_000, 5 * this.pollIntervalMs);
    this.log = options.log ?? (() => {});
    this.workers = (options.projections ?? ALL_PROJECTIONS).flatMap((projection) =>
      workersOf(projection, segmentCountOf(projection, options.segments)),
    );
    this.heartbeat = new RunnerHeartbeat(this.pool, {
      runnerId: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      pollIntervalMs: this.pollIntervalMs,
      slots: this.workers.length,
      log: this.log,
      onTick: () => this.releaseExtras(),
    });
  }

  /** The checkpoints this runner currently owns: projection names, `<name>#<segment>`. */
  get owned(): string[] {
    return this.workers.filter((w) => w.owned).map((w) => w.target.checkpoint);
  }

  /** This runner's share of the loops, given the live runners. */
  get share(): number {
    return this.heartbeat.share;
  }

  /** Owns more than its share (another runner started): one loop gives its lock up. */
  private releaseExtras(): void {
    const owned = this.workers.filter((w) => w.owned && !w.releasing);
    if (owned.length <= this.heartbeat.share) return;
    const extra = owned.find((w) => w.failureRounds === 0) ?? owned[owned.length - 1]!;
    extra.releasing = true;
    extra.wake?.();
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    // Checkpoint rows, tables and views exist once start() resolves (status works at once).
    const client = await this.pool.connect();
    try {
      for (const worker of this.workers) {
        if (worker.target.segment?.index ?? 0) continue; // once per projection
        await ensureProjection(client, worker.projection, worker.segments);
      }
    } finally {
      client.release();
    }
    await this.heartbeat.start();
    await this.listen();
    for (const worker of this.workers) worker.done = this.loop(worker);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.listenerRetry);
    for (const worker of this.workers) worker.wake?.();
    await Promise.all(this.workers.map((worker) => worker.done ?? Promise.resolve()));
    await this.heartbeat.stop();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /** Wakes every loop (as a notification would); a failing one keeps its backoff. */
  wakeAll(): void {
    for (const worker of this.workers) {
      worker.wakePending = true;
      if (!worker.backingOff) worker.wake?.();
    }
  }

  /** Ends a failing projection's backoff now (its stuck event was skipped). */
  retryNow(name: string): void {
    for (const worker of this.workers) {
      if (worker.projection.name === name || worker.target.checkpoint === name) worker.wake?.();
    }
  }

  private ownedCount(): number {
    return this.workers.filter((w) => w.owned).length;
  }

  private connect(): Promise<Client> {
    if (this.options.connect) return this.options.connect();
    const client = new Client({ ...this.pool.options, application_name: 'sagaflow-projector' });
    return client.connect().then(() => client);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = await this.connect();
      client.on('notification', (message) => {
        if (message.channel === RETRY_CHANNEL) this.retryNow(message.payload ?? '');
        else this.wakeAll();
      });
      client.on('error', (error) => {
        this.log('projection runner: LISTEN connection lost; polling until it is back', error);
        if (this.listener === client) this.listener = undefined;
        client.end().catch(() => undefined);
        this.listenerRetry = setTimeout(() => void this.listen(), this.pollIntervalMs);
      });
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      await client.query(`LISTEN ${RETRY_CHANNEL}`);
      if (this.stopped) {
        await client.end();
        return;
      }
      this.listener = client;
      // Anything appended while we were not listening is picked up by this wake-up.
      this.wakeAll();
    } catch (error) {
      this.log('projection runner: could not LISTEN; polling', error);
      this.listenerRetry = setTimeout(() => void this.listen(), this.pollIntervalMs);
    }
  }

  private wait(worker: Worker, ms = this.pollIntervalMs): Promise<void> {
    if ((worker.wakePending && !worker.backingOff) || this.stopped) {
      worker.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        worker.wake = undefined;
        worker.wakePending = false;
        resolve();
      }
      worker.wake = done;
    });
  }

  private async loop(worker: Worker): Promise<void> {
    const { projection, target } = worker;
    const lockKey = ownerLockKey(target.checkpoint);
    const options = engineOptions({
      ...(this.options.batchSize !== undefined && { batchSize: this.options.batchSize }),
      ...(this.options.maxAttempts !== undefined && { maxAttempts: this.options.maxAttempts }),
      ...(this.options.retryBaseMs !== undefined && { retryBaseMs: this.options.retryBaseMs }),
      ...(this.options.beforeCheckpoint && { beforeCheckpoint: this.options.beforeCheckpoint }),
      isStopped: () => this.stopped,
      log: this.log,
    });
    let conn: Client | undefined;
    let broken = false;
    const drop = async () => {
      const old = conn;
      conn = undefined;
      if (worker.owned) this.log(`projection ${target.checkpoint}: lost ownership`);
      worker.owned = false;
      await old?.end().catch(() => undefined);
    };

    while (!this.stopped) {
      try {
        if (conn && broken) await drop();
        if (!conn) {
          broken = false;
          const client = await this.connect();
          client.on('error', () => {
            broken = true;
          });
          client.on('end', () => {
            broken = true;
          });
          conn = client;
          await this.reapWhenSilent(client);
        }
        if (worker.releasing) {
          worker.releasing = false;
          if (worker.owned) await advisoryUnlock(conn, lockKey);
          worker.owned = false;
          this.log(`projection ${target.checkpoint}: released to another runner`);
          await this.wait(worker);
          continue;
        }
        if (!worker.owned) {
          if (this.ownedCount() >= this.heartbeat.share) {
            await this.wait(worker);
            continue;
          }
          await ensureProjection(conn, projection, worker.segments);
          worker.owned = await tryAdvisoryLock(conn, lockKey);
          if (!worker.owned) {
            await this.wait(worker);
            continue;
          }
          this.log(`projection ${target.checkpoint}: owned by this runner`);
        }
        const checkpoint = await readCheckpoint(conn, target.checkpoint);
        if (checkpoint && checkpoint.version !== projection.version) {
          await this.rebuildForNewVersion(conn, worker, options);
          continue;
        }
        // While failing, each retry is a single attempt: the quick ones were spent already.
        const stepOptions = worker.failureRounds > 0 ? { ...options, maxAttempts: 1 } : options;
        const step = await runStep(conn, this.store, projection, 'live', stepOptions, target);
        if (worker.failureRounds > 0) {
          this.log(
            `projection ${projection.name}: recovered after ${worker.failureRounds} retries`,
          );
          worker.failureRounds = 0;
        }
        await this.trackRate(conn, worker, step.applied);
        if (step.outcome === 'empty') await this.wait(worker);
      } catch (error) {
        if (error instanceof ProjectionFailedError && conn) {
          // The connection may break while backing off: reconnect (and re-take the lock).
          await this.backOff(conn, worker, error).catch((backOffError: unknown) => {
            this.log(`projection ${projection.name}: ${messageOf(backOffError)}`, backOffError);
            broken = true;
          });
          continue;
        }
        if (this.stopped) break;
        this.log(`projection ${projection.name}: ${messageOf(error)}; retrying`, error);
        broken = true;
        await this.wait(worker);
      }
    }
    if (conn && worker.owned && !broken) {
      await advisoryUnlock(conn, lockKey).catch(() => undefined);
    }
    await drop();
  }

  /**
   * A half-open owner connection would keep its advisory lock for as long as TCP takes to
   * notice (about 2 h by default): the server ends it once it has been idle for
   * ownerIdleTimeoutMs instead. idle_session_timeout exists from PostgreSQL 14; older
   * servers rely on the TCP keepalive settings of the pool's connections.
   */
  private async reapWhenSilent(conn: Client): Promise<void> {
    try {
      await conn.query("SELECT set_config('idle_session_timeout', $1, false)", [
        String(Math.round(this.ownerIdleTimeoutMs)),
      ]);
    } catch (error) {
      this.log('projection runner: no idle_session_timeout on this server', error);
    }
  }

  /**
   * A failing projection keeps its lock and retries on a slow, capped exponential schedule
   * until the event applies (transient fault) or an operator skips it (poison event).
   */
  private async backOff(conn: Client, worker: Worker, error: ProjectionFailedError) {
    worker.failureRounds++;
    const delay = failureRetryDelay(
      worker.failureRounds,
      this.options.failureRetryBaseMs ?? 1000,
      this.options.failureRetryMaxMs ?? 60_000,
    );
    this.log(`${error.message}; retry ${worker.failureRounds} in ${delay} ms`, error.cause);
    await recordNextRetry(
      conn,
      worker.target.checkpoint,
      error.position,
      new Date(Date.now() + delay),
    ).catch((recordError: unknown) => this.log('could not record the next retry', recordError));
    worker.backingOff = true;
    try {
      await this.waitForRetry(conn, worker, error.position, Date.now() + delay);
    } finally {
      worker.backingOff = false;
    }
  }

  /**
   * Waits until `retryAt`, a skip's notification or stop, looking at the checkpoint every
   * poll interval: that keeps the owner session from idling out and notices a skip whose
   * notification this runner missed (LISTEN connection down).
   */
  private async waitForRetry(conn: Client, worker: Worker, stuckAt: bigint, retryAt: number) {
    for (let left = retryAt - Date.now(); left > 0 && !this.stopped; left = retryAt - Date.now()) {
      await this.wait(worker, Math.min(left, this.pollIntervalMs));
      const checkpoint = await readCheckpoint(conn, worker.target.checkpoint);
      if (checkpoint?.errorPosition !== stuckAt) return;
    }
  }

  /**
   * A new projection version: rebuild into a fresh generation while the old one serves. Of
   * a split projection, the owner of segment 0 rebuilds all segments; the others wait.
   */
  private async rebuildForNewVersion(
    conn: Client,
    worker: Worker,
    options: ReturnType<typeof engineOptions>,
  ): Promise<void> {
    const { projection } = worker;
    const key = rebuildLockKey(projection.name);
    if ((worker.target.segment?.index ?? 0) !== 0) {
      await sleep(this.pollIntervalMs);
      return;
    }
    if (!(await tryAdvisoryLock(conn, key))) {
      await sleep(this.pollIntervalMs); // a CLI rebuild runs
      return;
    }
    try {
      this.log(`projection ${projection.name}: version ${projection.version} needs a rebuild`);
      await runRebuild(conn, this.store, projection, options, undefined, 'resume', {
        segments: worker.segments,
        pool: this.pool,
      });
    } finally {
      await advisoryUnlock(conn, key).catch(() => undefined);
    }
  }

  private async trackRate(conn: Client, worker: Worker, applied: number): Promise<void> {
    const now = Date.now();
    if (applied > 0) worker.recent.push({ at: now, events: applied });
    while (worker.recent.length > 0 && worker.recent[0]!.at < now - RATE_WINDOW_MS) {
      worker.recent.shift();
    }
    if (now - worker.lastRateWrite < 1000 && applied > 0) return;
    if (applied === 0 && worker.lastRateWrite === -1) return; // already reported idle
    const events = worker.recent.reduce((sum, entry) => sum + entry.events, 0);
    const span = Math.max(1000, now - (worker.recent[0]?.at ?? now));
    const rate = events === 0 ? 0 : (events * 1000) / span;
    await recordRate(conn, worker.target.checkpoint, rate);
    worker.lastRateWrite = rate === 0 ? -1 : now;
  }
}
