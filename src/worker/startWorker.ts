import type { Pool } from 'pg';
import type { SagaActivities } from '../../activities';
import { withFaultInjection } from '../../activities/faultInjection';
import type { CommandHandler } from '../application/commandHandler';
import type { Config } from '../config';
import type { EventStore } from '../eventstore';
import type { Logger } from '../logger';
import { connectWorker } from '../temporal/connection';
import { createSagaWorker, sagaWorkerParts } from './createWorker';

export interface RunningWorker {
  /** Settles when the worker has stopped (after shutdown(), or rejects on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Connects to Temporal and runs the saga worker: the workflows, and their activities wired
 * to the event store (with fault injection when FAULT_INJECTION=enabled). Nothing else: the
 * merchant account and the reconcilers are components of their own (src/system/components.ts).
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
  const { config, logger } = deps;
  const parts = sagaWorkerParts({
    commands: deps.commands,
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
  }).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  logger.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE },
    'saga worker running',
  );
  const done = worker.run().finally(() => connection.close());
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
