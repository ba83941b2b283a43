import path from 'node:path';
import {
  bundleWorkflowCode,
  Runtime,
  Worker,
  type BundleOptions,
  type NativeConnection,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createActivities, type ActivityDependencies, type SagaActivities } from '../../activities';
import type { CommandHandler } from '../application/commandHandler';
import type { Config } from '../config';
import type { EventStore } from '../eventstore';
import { refuseUnbackedMoves } from './unbackedMoveGuard';

export const WORKFLOWS_PATH = path.resolve(__dirname, '../../workflows/index.ts');
/** Decodes without throwing: one malformed signal must not wedge a saga (see the module). */
export const PAYLOAD_CONVERTER_PATH = path.resolve(
  __dirname,
  'sandbox/tolerantPayloadConverter.ts',
);
export const WORKFLOW_INTERCEPTOR_MODULES = [
  path.resolve(__dirname, 'sandbox/refuseUndecodableInput.ts'),
];

/**
 * What every bundle of the sagas includes: the workflows, the payload converter and the
 * workflow interceptors (both run inside the sandbox, so they must be bundled; a worker
 * given a prebuilt bundle ignores `interceptors.workflowModules`).
 */
export const SAGA_BUNDLE_OPTIONS = {
  workflowsPath: WORKFLOWS_PATH,
  payloadConverterPath: PAYLOAD_CONVERTER_PATH,
  workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
} satisfies BundleOptions;

/**
 * Bundles the sagas as every saga worker runs them. `workflowsPath` replaces the workflows
 * only (a test's deliberately broken copy); the converter and interceptors stay.
 */
export function bundleSagaWorkflows(
  options: { logger?: BundleOptions['logger']; workflowsPath?: string } = {},
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    ...SAGA_BUNDLE_OPTIONS,
    workflowsPath: options.workflowsPath ?? WORKFLOWS_PATH,
    ...(options.logger && { logger: options.logger }),
  });
}

export interface SagaWorkerDependencies {
  commands: CommandHandler;
  eventStore: EventStore;
  config: Pick<Config, 'UNSERVED_COUNTRIES' | 'MERCHANT_ACCOUNT_ID' | 'APPROVAL_THRESHOLD'>;
  /**
   * Wraps the activities on the event store, inside the guard: production's fault injection
   * (FAULT_INJECTION=enabled), a test's faults (test/support/faults.ts). See sagaWorkerParts
   * for why inside.
   */
  wrapActivities?: (activities: SagaActivities) => SagaActivities;
  /** The account decider the activities use (tests: one with a small reference window). */
  accountDecider?: ActivityDependencies['accountDecider'];
}

/** Everything a saga worker runs besides its connection: the one way every process wires it. */
export interface SagaWorkerParts {
  activities: SagaActivities;
  dataConverter: { payloadConverterPath: string };
  bundleOptions: typeof SAGA_BUNDLE_OPTIONS;
}

/**
 * The saga worker's parts, for the production entry points and the tests alike. The
 * activities, innermost first:
 * 1. the activities on the event store;
 * 2. `wrapActivities` (fault injection);
 * 3. the unbacked-move guard (./unbackedMoveGuard.ts): a reset, a second start or an edited
 *    input may not move money or stock the order or transfer does not back.
 * Faults sit between the guard and the store because that is where a real worker's faults
 * happen (a lock or pool wait, a stall, a reply lost after the commit): after the guard's
 * read. So a test sees the guard's check exactly as stale as production can make it, e.g.
 * the aggregate moved on between the check and the effect, a race the guard cannot close;
 * wrapped around the guard, a held step would re-check late and hide that race.
 */
export function sagaWorkerParts(deps: SagaWorkerDependencies): SagaWorkerParts {
  const activities = createActivities({
    commands: deps.commands,
    eventStore: deps.eventStore,
    unservedCountries: deps.config.UNSERVED_COUNTRIES,
    ...(deps.accountDecider && { accountDecider: deps.accountDecider }),
  });
  const guarded = refuseUnbackedMoves(
    deps.wrapActivities?.(activities) ?? activities,
    deps.eventStore,
    {
      merchantAccountId: deps.config.MERCHANT_ACCOUNT_ID,
      approvalThreshold: deps.config.APPROVAL_THRESHOLD,
    },
  );
  return {
    activities: guarded,
    dataConverter: { payloadConverterPath: PAYLOAD_CONVERTER_PATH },
    bundleOptions: SAGA_BUNDLE_OPTIONS,
  };
}

export interface SagaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  parts: SagaWorkerParts;
  /**
   * A bundle from bundleSagaWorkflows (the same options as `parts.bundleOptions`), built once
   * and shared: tests bundle once per file. Without it the worker bundles at start.
   */
  workflowBundle?: WorkflowBundleWithSourceMap;
  maxConcurrentActivityTaskExecutions?: number;
  /** 0 replays every workflow task: tests use it to shake out non-determinism. */
  maxCachedWorkflows?: number;
}

/** A worker that runs every saga and its activities on one task queue. */
export async function createSagaWorker(options: SagaWorkerOptions): Promise<Worker> {
  const { parts } = options;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: parts.activities,
    workflowBundle:
      options.workflowBundle ??
      // Logs through the Runtime's logger (LOG_LEVEL), as the worker's own bundling did.
      (await bundleWorkflowCode({ ...parts.bundleOptions, logger: Runtime.instance().logger })),
    dataConverter: parts.dataConverter,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 100,
    ...(options.maxCachedWorkflows !== undefined && {
      maxCachedWorkflows: options.maxCachedWorkflows,
    }),
    // A non-determinism error fails the run visibly instead of retrying the task forever.
    workflowFailureErrorTypes: { '*': ['DeterminismViolationError'] },
    // SIGTERM/SIGINT: stop polling, let running activities finish, then exit.
    shutdownGraceTime: '10s',
  });
}
