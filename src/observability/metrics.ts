import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventStoreHooks } from '../eventstore';
import type { ReplicaMonitor } from '../infra/readReplica';

/** A projection's progress and health as the projections module reports it (what the gauges need). */
export interface ProjectionHealth {
  name: string;
  lagEvents: number;
  lagSeconds: number;
  /** 'failing' while stuck on an event and retrying. */
  state?: string;
  /** Failed attempts ever (monotonic) and when the latest was (ISO-8601). */
  errorsTotal?: number;
  lastErrorAt?: string | null;
  /** Of a projection split into segments: each one's lag and whether a runner owns it. */
  segments?: ReadonlyArray<{ segment: number; lagEvents: number; ownerPid: number | null }> | null;
}

/** The outbox relay's figures (src/integration/relay/status.ts), read from its checkpoint row. */
export interface RelayHealth {
  lagEvents: number;
  lagSeconds: number;
  messagesPerSecond: number;
  publishedTotal: number;
  duplicatesTotal: number;
  publishFailuresTotal: number;
}

/** One durable JetStream consumer's state (src/messaging/consumerLag.ts), read from the server. */
export interface ConsumerLag {
  consumer: string;
  stream: string;
  /** Messages it has not been delivered yet (num_pending). */
  pending: number;
  /** Delivered, not acked yet (num_ack_pending). */
  ackPending: number;
  /** Of those, delivered more than once (num_redelivered). */
  redelivered: number;
  /** Its messages in the dead-letter stream. */
  deadLetters: number;
}

export type ProjectionLagSource = () => Promise<ReadonlyArray<ProjectionHealth>>;

/** How many sagas are in each status, by saga type (read from the read models). */
export type SagaCountSource = () => Promise<
  ReadonlyArray<{ sagaType: string; status: string; count: number }>
>;

export interface MetricsOptions {
  /** Adds the process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean;
  /** Read on every scrape to fill `sagaflow_projection_lag_events`. */
  projectionStatuses?: ProjectionLagSource;
  /** Read on every scrape to fill `sagaflow_catchup_held_back_events` and `..._oldest_transaction_age_seconds`. */
  readerHoldback?: () => Promise<{
    heldBackEvents: number;
    oldestTransactionAgeSeconds: number;
    holder: { xidAge: number } | null;
  }>;
  /** Read on every scrape to fill `sagaflow_sagas` (sagas by type and status, from read models). */
  sagaCounts?: SagaCountSource;
  /** The read replica (DATABASE_READ_URL), checked on every scrape for `sagaflow_replica_*`. */
  replica?: ReplicaMonitor;
  /** Read on every scrape to fill the `sagaflow_relay_*` metrics. */
  relayStatus?: () => Promise<RelayHealth>;
  /** Read on every scrape to fill the `sagaflow_consumer_*` metrics (durable bus consumers). */
  consumerLag?: () => Promise<ReadonlyArray<ConsumerLag>>;
  /** Where the worker's Temporal Runtime exposes its Prometheus text, appended to ours. */
  sdkMetricsUrl?: string;
  prefix?: string;
}

/**
 * Every Prometheus metric of the service, in a registry of its own (tests build many apps
 * in one process; the global registry would refuse duplicate names).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly appendedEvents: Counter<'stream_type'>;
  readonly appendDuration: Histogram<'stream_type' | 'duplicate'>;
  readonly sagas: Gauge<'saga_type' | 'status'>;
  readonly projectionLag: Gauge<'projection'>;
  readonly projectionLagSeconds: Gauge<'projection'>;
  readonly projectionFailing: Gauge<'projection'>;
  readonly projectionErrors: Counter<'projection'>;
  readonly projectionLastError: Gauge<'projection'>;
  readonly projectionSegmentLag: Gauge<'projection' | 'segment'>;
  readonly projectionSegmentOwned: Gauge<'projection' | 'segment'>;
  readonly catchUpHeldBack: Gauge;
  readonly catchUpOldestTransactionAge: Gauge;
  readonly catchUpOldestTransactionXidAge: Gauge;
  readonly replicaUp: Gauge;
  readonly replicaLagBytes: Gauge;
  readonly replicaLagSeconds: Gauge;
  readonly replicaReadFallbacks: Counter<'reason'>;
  readonly relay: Array<Gauge | Counter>;
  readonly consumers: Array<Gauge | Counter>;
  private readonly sdkMetricsUrl: string | undefined;

  constructor(options: MetricsOptions = {}) {
    const prefix = options.prefix ?? 'sagaflow_';
    this.sdkMetricsUrl = options.sdkMetricsUrl;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: `${prefix}http_requests_total`,
      help: 'HTTP requests answered, by route template and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'HTTP request latency, by route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.appendedEvents = new Counter({
      name: `${prefix}eventstore_appended_events_total`,
      help: 'Events appended to the event store (idempotent repeats count 0)',
      labelNames: ['stream_type'],
      registers,
    });
    this.appendDuration = new Histogram({
      name: `${prefix}eventstore_append_duration_seconds`,
      help: 'Latency of one append call',
      labelNames: ['stream_type', 'duplicate'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    // Saga outcomes from the source every process shares: the order and transfer read
    // models (a counter in one process would miss the sagas other processes finish).
    const sagaCounts = options.sagaCounts;
    this.sagas = new Gauge({
      name: `${prefix}sagas`,
      help: 'Sagas by type and current status (COMPLETED, CANCELLED, COMPENSATION_FAILED, ...)',
      labelNames: ['saga_type', 'status'],
      registers,
      async collect() {
        if (!sagaCounts) return;
        this.reset();
        for (const row of await sagaCounts()) {
          this.set({ saga_type: row.sagaType, status: row.status }, row.count);
        }
      },
    });
    const source = options.projectionStatuses;
    // One read of the statuses per scrape feeds both gauges.
    let pending: ReturnType<ProjectionLagSource> | undefined;
    const statuses = () => {
      pending ??= (source ? source() : Promise.resolve([])).finally(() => {
        pending = undefined;
      });
      return pending;
    };
    /** Fills a metric from the statuses on each scrape; `pick` undefined leaves a projection out. */
    const fillFromStatuses = async (
      fill: (projection: string, value: number) => void,
      reset: () => void,
      pick: (s: ProjectionHealth) => number | undefined,
    ) => {
      if (!source) return;
      try {
        const all = await statuses();
        reset();
        for (const status of all) {
          const value = pick(status);
          if (value !== undefined) fill(status.name, value);
        }
      } catch {
        // A scrape must not fail because the database is briefly away.
      }
    };
    const lagGauge = (
      name: string,
      help: string,
      pick: (s: ProjectionHealth) => number | undefined,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection'],
        registers,
        async collect() {
          await fillFromStatuses(
            (projection, value) => this.set({ projection }, value),
            () => this.reset(),
            pick,
          );
        },
      });
    this.projectionLag = lagGauge(
      `${prefix}projection_lag_events`,
      'Events after each projection checkpoint not yet applied',
      (s) => s.lagEvents,
    );
    this.projectionLagSeconds = lagGauge(
      `${prefix}projection_lag_seconds`,
      'Age of the oldest event each projection has not applied yet',
      (s) => s.lagSeconds,
    );
    this.projectionFailing = lagGauge(
      `${prefix}projection_failing`,
      '1 while a projection is stuck on an event and retrying (see GET /admin/projections)',
      (s) => (s.state === undefined ? undefined : s.state === 'failing' ? 1 : 0),
    );
    this.projectionLastError = lagGauge(
      `${prefix}projection_last_error_timestamp_seconds`,
      'When each projection last failed to apply an event (Unix time)',
      (s) => (s.lastErrorAt ? Date.parse(s.lastErrorAt) / 1000 : undefined),
    );
    const segmentGauge = (
      name: string,
      help: string,
      pick: (segment: NonNullable<ProjectionHealth['segments']>[number]) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection', 'segment'],
        registers,
        async collect() {
          if (!source) return;
          try {
            const all = await statuses();
            this.reset();
            for (const status of all) {
              for (const segment of status.segments ?? []) {
                this.set(
                  { projection: status.name, segment: String(segment.segment) },
                  pick(segment),
                );
              }
            }
          } catch {
            // A scrape must not fail because the database is briefly away.
          }
        },
      });
    this.projectionSegmentLag = segmentGauge(
      `${prefix}projection_segment_lag_events`,
      'Events after each segment checkpoint of a split projection not yet applied',
      (segment) => segment.lagEvents,
    );
    this.projectionSegmentOwned = segmentGauge(
      `${prefix}projection_segment_owned`,
      '1 while a runner owns the segment of a split projection',
      (segment) => (segment.ownerPid === null ? 0 : 1),
    );
    // What holds every catch-up reader back: committed events above the oldest transaction
    // still running anywhere on the server (another database or application counts too).
    const holdbackSource = options.readerHoldback;
    let pendingHoldback: ReturnType<NonNullable<MetricsOptions['readerHoldback']>> | undefined;
    const holdback = () => {
      if (!holdbackSource) return Promise.resolve(undefined);
      pendingHoldback ??= holdbackSource().finally(() => {
        pendingHoldback = undefined;
      });
      return pendingHoldback.catch(() => undefined); // a scrape must not fail on a DB blip
    };
    const holdbackGauge = (
      name: string,
      help: string,
      pick: (h: Awaited<ReturnType<NonNullable<MetricsOptions['readerHoldback']>>>) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = await holdback();
          if (value) this.set(pick(value));
        },
      });
    this.catchUpHeldBack = holdbackGauge(
      `${prefix}catchup_held_back_events`,
      'Committed events no catch-up reader can see yet: an older transaction still runs on the server (GET /admin/projections names it)',
      (h) => h.heldBackEvents,
    );
    this.catchUpOldestTransactionAge = holdbackGauge(
      `${prefix}catchup_oldest_transaction_age_seconds`,
      'Age of the oldest running transaction of the Postgres server, which catch-up readers wait for (0 if none or not visible)',
      (h) => h.oldestTransactionAgeSeconds,
    );
    this.catchUpOldestTransactionXidAge = holdbackGauge(
      `${prefix}catchup_oldest_transaction_xid_age`,
      'Transactions started on the server since the oldest running one (age(xid); 0 if none)',
      (h) => h.holder?.xidAge ?? 0,
    );
    // The read replica: one check per scrape feeds the three gauges; no series without one.
    const replica = options.replica;
    const replicaRegisters = replica ? registers : [];
    let pendingReplica: ReturnType<ReplicaMonitor['check']> | undefined;
    const replicaStatus = () => {
      pendingReplica ??= replica?.check().finally(() => {
        pendingReplica = undefined;
      });
      return pendingReplica;
    };
    const replicaGauge = (
      name: string,
      help: string,
      pick: (s: Awaited<ReturnType<ReplicaMonitor['check']>>) => number | undefined,
    ) =>
      new Gauge({
        name,
        help,
        registers: replicaRegisters,
        async collect() {
          const status = await replicaStatus();
          const value = status && pick(status);
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    this.replicaUp = replicaGauge(
      `${prefix}replica_up`,
      '1 while the read replica (DATABASE_READ_URL) answers as a standby, else 0 (reads go to the primary)',
      (s) => (s.ok ? 1 : 0),
    );
    this.replicaLagBytes = replicaGauge(
      `${prefix}replica_lag_bytes`,
      'WAL the primary has written that the read replica has not replayed yet',
      (s) => s.lagBytes,
    );
    this.replicaLagSeconds = replicaGauge(
      `${prefix}replica_lag_seconds`,
      'Age of the last transaction the read replica replayed while it has WAL left to replay (0 when caught up)',
      (s) => s.lagSeconds,
    );
    this.replicaReadFallbacks = new Counter({
      name: `${prefix}replica_read_fallbacks_total`,
      help: 'Reads the primary served because the read replica was down (replica_down) or failed them (replica_error)',
      labelNames: ['reason'],
      registers: replicaRegisters,
      collect() {
        if (!replica) return;
        this.reset();
        for (const [reason, count] of replica.fallbacks()) this.inc({ reason }, count);
      },
    });
    // Read from the checkpoint row, which every projector process shares.
    this.projectionErrors = new Counter({
      name: `${prefix}projection_errors_total`,
      help: 'Failed attempts to apply an event, by projection',
      labelNames: ['projection'],
      registers,
      async collect() {
        await fillFromStatuses(
          (projection, value) => this.inc({ projection }, value),
          () => this.reset(),
          (s) => s.errorsTotal,
        );
      },
    });
    this.relay = relayMetrics(prefix, registers, options.relayStatus);
    this.consumers = consumerMetrics(prefix, registers, options.consumerLag);
  }

  /** Pass as `createEventStore(pool, { hooks: metrics.eventStoreHooks() })`. */
  eventStoreHooks(): Required<EventStoreHooks> {
    return { onAppend: this.recordAppend };
  }

  readonly recordAppend = (
    streamType: string,
    eventCount: number,
    seconds: number,
    duplicate: boolean,
  ): void => {
    this.appendedEvents.inc({ stream_type: streamType }, eventCount);
    this.appendDuration.observe({ stream_type: streamType, duplicate: String(duplicate) }, seconds);
  };

  recordHttp(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Our metrics, followed by the Temporal SDK's when a URL for them is configured. */
  async render(): Promise<string> {
    const ours = await this.registry.metrics();
    if (!this.sdkMetricsUrl) return ours;
    try {
      const response = await fetch(this.sdkMetricsUrl, { signal: AbortSignal.timeout(1000) });
      if (!response.ok) return ours;
      return `${ours}\n${await response.text()}`;
    } catch {
      return ours;
    }
  }
}

/**
 * The relay's lag (events and seconds), throughput and failures. Read from its checkpoint
 * row, so the API's /metrics shows them whichever process runs the relay.
 */
function relayMetrics(
  prefix: string,
  registers: Registry[],
  source: MetricsOptions['relayStatus'],
): Array<Gauge | Counter> {
  let pending: Promise<RelayHealth | undefined> | undefined;
  const status = () => {
    if (!source) return Promise.resolve(undefined);
    pending ??= source()
      .catch(() => undefined) // a scrape must not fail on a DB blip
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const gauge = (name: string, help: string, pick: (s: RelayHealth) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      async collect() {
        const value = await status();
        if (value) this.set(pick(value));
      },
    });
  const counter = (name: string, help: string, pick: (s: RelayHealth) => number) =>
    new Counter({
      name: `${prefix}${name}`,
      help,
      registers,
      async collect() {
        const value = await status();
        if (!value) return;
        this.reset();
        this.inc(pick(value));
      },
    });
  return [
    gauge(
      'relay_lag_events',
      'Domain events the outbox relay has not published yet',
      (s) => s.lagEvents,
    ),
    gauge(
      'relay_lag_seconds',
      'Age of the oldest domain event the relay has not published yet',
      (s) => s.lagSeconds,
    ),
    gauge(
      'relay_published_per_second',
      'Messages the relay published per second (recent)',
      (s) => s.messagesPerSecond,
    ),
    counter(
      'relay_published_messages_total',
      'Messages JetStream acknowledged to the relay',
      (s) => s.publishedTotal,
    ),
    counter(
      'relay_duplicate_messages_total',
      'Of those, re-publishes JetStream dropped as duplicates',
      (s) => s.duplicatesTotal,
    ),
    counter(
      'relay_publish_failures_total',
      'Relay steps that failed (NATS away, PubAck timeout)',
      (s) => s.publishFailuresTotal,
    ),
  ];
}

/**
 * Per durable bus consumer (loyalty, sagaflow-delivery, carrier-simulator): its backlog,
 * unacked and redelivered messages, and dead letters. Read from JetStream on each scrape,
 * so the API's /metrics shows them whichever process runs the consumer.
 */
function consumerMetrics(
  prefix: string,
  registers: Registry[],
  source: MetricsOptions['consumerLag'],
): Array<Gauge | Counter> {
  let pending: Promise<ReadonlyArray<ConsumerLag> | undefined> | undefined;
  const lags = () => {
    if (!source) return Promise.resolve(undefined);
    pending ??= source()
      .catch(() => undefined) // a scrape must not fail while NATS is away
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const labelNames = ['consumer', 'stream'] as const;
  const gauge = (name: string, help: string, pick: (l: ConsumerLag) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      labelNames,
      registers,
      async collect() {
        const all = await lags();
        if (!all) return;
        this.reset();
        for (const l of all) this.set({ consumer: l.consumer, stream: l.stream }, pick(l));
      },
    });
  return [
    gauge(
      'consumer_pending_messages',
      'Messages of its stream a durable bus consumer has not been delivered yet (num_pending)',
      (l) => l.pending,
    ),
    gauge(
      'consumer_ack_pending_messages',
      'Messages delivered to a durable bus consumer and not acked yet (num_ack_pending)',
      (l) => l.ackPending,
    ),
    gauge(
      'consumer_redelivered_messages',
      'Of those, messages delivered more than once (num_redelivered): failing or crashing consumers',
      (l) => l.redelivered,
    ),
    new Counter({
      name: `${prefix}consumer_dead_letters_total`,
      help: 'Messages a durable bus consumer gave up on, in the DEAD_LETTERS stream (npm run dead-letters)',
      labelNames,
      registers,
      async collect() {
        const all = await lags();
        if (!all) return;
        this.reset();
        for (const l of all) this.inc({ consumer: l.consumer, stream: l.stream }, l.deadLetters);
      },
    }),
  ];
}
