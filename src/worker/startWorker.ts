import type { Pool } from 'pg';
import type { SagaActivities } from '../../activities';
import { withFaultInjection } from '../../activities/faultInjection';
import type { CommandHandler } from '../application/commandHandler';
import { DirectCommands } from '../application/directCommands';
import type { Config } from '../config';
import type { EventStore } from '../eventstore';
import type { Logger } from '../logger';
import { connectClient, connectWorker } from '../temporal/connection';
import { AbandonedSagaReconciler } from '../application/abandonedSagaReconciler';
import { OrphanedOrderReconciler } from '../application/orphanedOrderReconciler';
import { createSagaWorker, sagaWorkerParts } from './createWorker';

export interface RunningWorker {
  /** Resolves when the worker has stopped (after shutdown(), or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Connects to Temporal and runs the saga worker: workflows plus activities wired to the
 * event store. Makes sure the merchant revenue account exists first, since every order's
 * forward steps credit it.
 */
export async function startSagaWorker(deps: {
  config: Config;
  temporalAddress: string;
  pool: Pool;
  eventStore: EventStore;
  /** The process's one command handler (it serializes commands per stream and remembers them). */
  commands: CommandHandler;
  logger: Logger;
}): Promise<RunningWorker> {
  const { config, logger, commands } = deps;
  await new DirectCommands(commands).openAccount(
    { accountId: config.MERCHANT_ACCOUNT_ID, ownerId: 'merchant' },
    { commandId: `bootstrap/merchant-account/${config.MERCHANT_ACCOUNT_ID}` },
  );
  const parts = sagaWorkerParts({
    commands,
    eventStore: deps.eventStore,
    config,
    ...(config.FAULT_INJECTION === 'enabled' && {
      wrapActivities: (activities: SagaActivities) => withFaultInjection(activities, deps.pool),
    }),
  });
  if (config.FAULT_INJECTION === 'enabled')
    logger.warn('fault injection is enabled: rows in fault_injections break activities');
  const connection = await connectWorker({
    address: deps.temporalAddress,
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const worker = await createSagaWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    parts,
  });
  logger.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE },
    'saga worker running',
  );
  // Starts the saga of any order left PLACED without one (see the reconciler).
  const temporal = await connectClient({
    address: deps.temporalAddress,
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const log = (message: string, error?: unknown) =>
    error ? logger.warn({ err: error }, message) : logger.info(message);
  const reconciler = new OrphanedOrderReconciler(
    deps.pool,
    deps.eventStore,
    { client: temporal.client, commands, config },
    { log },
  );
  // Finishes sagas whose workflow was terminated, timed out or failed half-way.
  const abandoned = new AbandonedSagaReconciler(
    {
      client: temporal.client,
      commands,
      eventStore: deps.eventStore,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
    },
    { log },
  );
  reconciler.start();
  abandoned.start();
  const done = worker.run().finally(async () => {
    await reconciler.stop();
    await abandoned.stop();
    await temporal.close();
    await connection.close();
  });
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
