import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { projectionReadModels } from '../api/projectionReadModels';
import type { ReadModels } from '../api/deps';
import {
  CommandHandler,
  commandHandlerSettings,
  type CommandHandlerOptions,
} from '../application/commandHandler';
import { createEventStore } from '../application/eventStore';
import { ConfigError, type Config } from '../config';
import {
  connectionLimits,
  createPool,
  type PoolOptions,
  type PostgresEventStore,
} from '../eventstore';
import { createReadSide, type ReadSide } from '../infra/readReplica';
import type { Logger } from '../logger';
import { Metrics } from '../observability/metrics';
import {
  ALL_PROJECTIONS,
  countSagasByStatus,
  createInlineProjector,
  getCatchUpHoldback,
  getProjectionStatuses,
  ProjectionRunner,
  type ProjectionRunnerOptions,
} from '../projections';
import { getRelayStatus } from '../integration/relay/status';
import { connectClient } from '../temporal/connection';
import { busConsumerLagSource } from './busConsumerLag';

/** The configuration a system is built from: the database is known by now (embedded or not). */
export type SystemConfig = Config & { DATABASE_URL: string };

export interface SystemOptions {
  /** Shown in pg_stat_activity (`sagaflow-api`, `sagaflow-worker`, …). */
  applicationName: string;
  logger: Logger;
  /** Connections of the pool (default PG_POOL_MAX). */
  poolMax?: number;
  /** Pool settings beyond the configured limits (a CLI turns the client-side timeout off). */
  pool?: Omit<PoolOptions, 'max' | 'applicationName'>;
  /**
   * Project each command's events inline, so this process's reads see its writes at once
   * (the catch-up projector repairs any miss). Default true.
   */
  inlineProjection?: boolean;
  /** Where this process's Temporal Runtime serves the SDK's metrics (appended to /metrics). */
  sdkMetricsUrl?: string;
}

/**
 * One process's parts, built once and the same way in every process: the pool; the event
 * store with the domain's schemas and upcasters, metrics hooks and personal-data policy;
 * the one command handler; the read models; the Temporal client (connected on first use).
 * `close()` ends what it opened and whatever was handed to `onClose`, last opened first.
 */
export interface System {
  readonly config: SystemConfig;
  readonly logger: Logger;
  readonly pool: Pool;
  readonly metrics: Metrics;
  readonly eventStore: PostgresEventStore;
  /** The process's one command handler: it serializes commands per stream and remembers them. */
  readonly commands: CommandHandler;
  readonly readModels: ReadModels;
  /** Where the API's reads run: the standby of DATABASE_READ_URL (set it on API processes), else the pool. */
  readonly reads: ReadSide;
  /** The Temporal client, connected on first call (needs TEMPORAL_ADDRESS). */
  temporal(): Promise<Client>;
  /** A catch-up runner over this system's pool and store (not started). */
  projectionRunner(
    options?: Omit<ProjectionRunnerOptions, 'pool' | 'eventStore' | 'log'>,
  ): ProjectionRunner;
  /** Stops `stop` before everything registered earlier, and before the Temporal client and the pool. */
  onClose(name: string, stop: () => Promise<unknown>): void;
  /** Stops what was registered, last first, then the Temporal client, then the pool. Once. */
  close(): Promise<void>;
}

/** The log callback the projections and reconcilers take, onto a pino logger. */
export const logTo =
  (logger: Logger) =>
  (message: string, error?: unknown): void =>
    error === undefined ? logger.info(message) : logger.warn({ err: error }, message);

export function createSystem(config: SystemConfig, options: SystemOptions): System {
  const { logger } = options;
  const closers: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const onClose = (name: string, stop: () => Promise<unknown>) => closers.push({ name, stop });

  const pool = createPool(config.DATABASE_URL, {
    max: options.poolMax ?? config.PG_POOL_MAX,
    idleInTransactionTimeoutMs: config.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ...connectionLimits(config),
    ...options.pool,
    applicationName: options.applicationName,
  });

  const reads = createReadSide(config, pool, {
    log: logger.child({ component: 'reads' }),
    applicationName: options.applicationName,
  });
  const busLag = config.NATS_URL ? busConsumerLagSource(config.NATS_URL) : undefined;
  if (busLag) onClose('bus consumer lag connection', () => busLag.close());
  const metrics = new Metrics({
    replica: reads.replica,
    projectionStatuses: () => getProjectionStatuses(pool),
    readerHoldback: () => getCatchUpHoldback(pool),
    sagaCounts: () => countSagasByStatus(pool),
    relayStatus: () => getRelayStatus(pool),
    ...(busLag && { consumerLag: () => busLag.read() }),
    ...(options.sdkMetricsUrl && { sdkMetricsUrl: options.sdkMetricsUrl }),
  });
  const eventStore = createEventStore(pool, { hooks: metrics.eventStoreHooks() });
  const afterAppend: CommandHandlerOptions['afterAppend'] =
    (options.inlineProjection ?? true)
      ? createInlineProjector(
          pool,
          ALL_PROJECTIONS,
          logTo(logger.child({ component: 'inline-projector' })),
        )
      : undefined;
  const commands = new CommandHandler(eventStore, {
    ...commandHandlerSettings(config),
    ...(afterAppend && { afterAppend }),
  });

  let temporal: Promise<Client> | undefined;
  let closeTemporal: (() => Promise<void>) | undefined;
  const connectTemporal = async (): Promise<Client> => {
    if (!config.TEMPORAL_ADDRESS) {
      throw new ConfigError('TEMPORAL_ADDRESS is required here, e.g. 127.0.0.1:7233');
    }
    const connected = await connectClient({
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
    });
    closeTemporal = () => connected.close();
    return connected.client;
  };

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    pool,
    metrics,
    eventStore,
    commands,
    readModels: projectionReadModels(eventStore),
    reads,
    temporal: () => (temporal ??= connectTemporal()),
    projectionRunner: (runnerOptions = {}) =>
      new ProjectionRunner({
        failureRetryMaxMs: config.PROJECTION_RETRY_MAX_MS,
        segments: config.PROJECTION_SEGMENTS,
        ...runnerOptions,
        pool,
        eventStore,
        log: logTo(logger.child({ component: 'projector' })),
      }),
    onClose,
    close: () =>
      (closing ??= (async () => {
        // What uses the client and the pool first; a client still connecting is awaited.
        await temporal?.catch(() => undefined);
        const parts = [
          ...closers.reverse(),
          ...(closeTemporal ? [{ name: 'Temporal client', stop: closeTemporal }] : []),
          { name: 'read replica pool', stop: () => reads.close() },
          { name: 'connection pool', stop: () => pool.end() },
        ];
        for (const { name, stop } of parts) {
          await stop().catch((error: unknown) =>
            logger.warn({ err: error }, `stopping ${name} failed`),
          );
        }
      })()),
  };
}
