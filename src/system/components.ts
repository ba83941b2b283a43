import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../api/app';
import { AbandonedSagaReconciler } from '../application/abandonedSagaReconciler';
import { ArchiveSchedule } from '../archiving/archiveSchedule';
import { liveOnlyProjectionNames } from '../archiving/liveOnly';
import { openMerchantAccount } from '../application/merchantAccount';
import { OrphanedOrderReconciler } from '../application/orphanedOrderReconciler';
import { startBusConsumers } from '../inbound/busConsumers';
import { startDeliveryConsumer } from '../inbound/deliveryConsumer';
import { connectAndEnsureStreams } from '../integration';
import { startRelay, streamSettingsOf } from '../integration/runtime';
import { installTemporalRuntime } from '../worker/runtime';
import { startSagaWorker } from '../worker/startWorker';
import { logTo, type System } from './createSystem';

/** A started component: how to stop it and, if it can end on its own, when it did. */
export interface RunningComponent {
  stop(): Promise<unknown>;
  /** Settles when the component ended by itself (rejects when it failed). */
  done?: Promise<unknown>;
  /** Lines for the banner `npm start` prints (where to reach it). */
  banner?: readonly string[];
}

export interface Component {
  /** What it does, for the one line each process logs at start. */
  description: string;
  /** Starts it on the system; it owns what it opens beyond the system's parts. */
  start(system: System): Promise<RunningComponent | undefined>;
}

/** The HTTP API over the system's parts, not listening (the api component listens; benches too). */
export async function buildApi(system: System, options: AppOptions = {}): Promise<FastifyInstance> {
  return buildApp(
    {
      pool: system.pool,
      eventStore: system.eventStore,
      commands: system.commands,
      temporal: await system.temporal(),
      config: system.config,
      readModels: system.readModels,
      reads: system.reads,
      metrics: system.metrics,
    },
    options,
  );
}

/**
 * Every component a process can run, by name. A new one (a relay, a consumer) is one entry
 * here and its name in the roles that run it (./roles.ts).
 */
export const COMPONENTS = {
  'merchant-account': {
    description: 'opens the merchant revenue account every order credits (once; then a no-op)',
    async start(system) {
      await openMerchantAccount(system.commands, system.config.MERCHANT_ACCOUNT_ID);
      return undefined;
    },
  },
  'saga-worker': {
    description: 'runs the sagas (workflows and activities) on the task queue',
    async start(system) {
      const { config } = system;
      // A no-op when the process installed it already (npm start does, before the dev server).
      installTemporalRuntime({ logLevel: config.LOG_LEVEL, metricsPort: config.METRICS_PORT });
      const worker = await startSagaWorker({
        config,
        temporalAddress: requireTemporal(system),
        pool: system.pool,
        eventStore: system.eventStore,
        commands: system.commands,
        logger: system.logger.child({ component: 'saga-worker' }),
      });
      return { stop: () => worker.shutdown(), done: worker.done };
    },
  },
  'orphaned-order-reconciler': {
    description: 'starts the saga of any order left PLACED without one',
    async start(system) {
      const reconciler = new OrphanedOrderReconciler(
        system.pool,
        system.eventStore,
        { client: await system.temporal(), commands: system.commands, config: system.config },
        { log: logTo(system.logger.child({ component: 'orphaned-order-reconciler' })) },
      );
      reconciler.start();
      return { stop: () => reconciler.stop() };
    },
  },
  'abandoned-saga-reconciler': {
    description: 'finishes sagas whose workflow was terminated, timed out or failed half-way',
    async start(system) {
      const reconciler = new AbandonedSagaReconciler(
        {
          client: await system.temporal(),
          commands: system.commands,
          eventStore: system.eventStore,
          taskQueue: system.config.TEMPORAL_TASK_QUEUE,
        },
        { log: logTo(system.logger.child({ component: 'abandoned-saga-reconciler' })) },
      );
      reconciler.start();
      return { stop: () => reconciler.stop() };
    },
  },
  projector: {
    description: 'runs the catch-up projections (one owner per projection across processes)',
    async start(system) {
      const runner = system.projectionRunner();
      await runner.start();
      return { stop: () => runner.stop() };
    },
  },
  archiver: {
    description:
      'archives finished streams older than ARCHIVE_AFTER every ARCHIVE_INTERVAL (off: never)',
    async start(system) {
      const { config } = system;
      if (config.ARCHIVE_INTERVAL === 'off') return undefined;
      const log = system.logger.child({ component: 'archiver' });
      const schedule = new ArchiveSchedule(system.pool, {
        intervalMs: config.ARCHIVE_INTERVAL,
        olderThanMs: config.ARCHIVE_AFTER,
        batchSize: config.ARCHIVE_BATCH_SIZE,
        liveOnlyProjections: liveOnlyProjectionNames(),
        log: (message) => log.debug(message),
        onRun: (result) => log.info(result, 'archive run'),
        onError: (error) => log.warn({ err: error }, 'archive run failed'),
      });
      schedule.start();
      return { stop: () => schedule.stop() };
    },
  },
  relay: {
    description: 'publishes integration events from the events table to JetStream (one owner)',
    async start(system) {
      if (system.config.INTEGRATION_RELAY === 'off') return undefined;
      const log = system.logger.child({ component: 'relay' });
      const relay = await startRelay({
        config: system.config,
        pool: system.pool,
        eventStore: system.eventStore,
        natsUrl: requireNats(system),
        log: (message, error) => log.info({ err: error }, message),
      });
      return { stop: () => relay.stop() };
    },
  },
  'delivery-consumer': {
    description: "turns the carrier's shipment.delivered.v1 into the order saga's signal",
    async start(system) {
      const nc = await connectAndEnsureStreams(
        { url: requireNats(system), name: 'sagaflow-inbound' },
        streamSettingsOf(system.config),
      );
      const consumer = await startDeliveryConsumer({
        nc,
        pool: system.pool,
        client: await system.temporal(),
        log: system.logger.child({ component: 'delivery-consumer' }),
      });
      return {
        stop: async () => {
          await consumer.stop();
          await nc.drain();
        },
      };
    },
  },
  'bus-consumers': {
    description:
      'the delivery consumer, the simulated carrier (CARRIER_SIMULATOR) and the loyalty service, in-process',
    async start(system) {
      const consumers = await startBusConsumers({
        config: { ...system.config, NATS_URL: requireNats(system) },
        pool: system.pool,
        temporal: await system.temporal(),
        log: system.logger,
      });
      return { stop: () => consumers.stop(), banner: consumers.banner };
    },
  },
  api: {
    description: 'serves the HTTP API on HOST:PORT',
    async start(system) {
      const app = await buildApi(system);
      // Slow clients may not hold sockets forever; keep-alive shorter than typical LB idle timeouts.
      app.server.requestTimeout = 30_000;
      app.server.headersTimeout = 10_000;
      app.server.keepAliveTimeout = 5_000;
      await app.listen({ port: system.config.PORT, host: system.config.HOST });
      // The bound address, not the configured one: PORT=0 asks the OS for a free port.
      const api = apiUrl(app, system.config.HOST);
      return {
        stop: () => app.close(),
        banner: [
          `  API          ${api}`,
          `  OpenAPI      ${api}/docs   (JSON: ${api}/docs/json)`,
          `  Metrics      ${api}/metrics`,
          `  AsyncAPI     ${api}/asyncapi.json`,
        ],
      };
    },
  },
} satisfies Record<string, Component>;

export type ComponentName = keyof typeof COMPONENTS;

function apiUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function requireNats(system: System): string {
  const url = system.config.NATS_URL;
  if (!url) throw new Error('integration events need NATS_URL');
  return url;
}

function requireTemporal(system: System): string {
  const address = system.config.TEMPORAL_ADDRESS;
  if (!address) throw new Error('the saga worker needs TEMPORAL_ADDRESS');
  return address;
}
