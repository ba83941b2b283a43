import path from 'node:path';
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { SagaActivities } from '../../activities';

export const WORKFLOWS_PATH = path.resolve(__dirname, '../../workflows/index.ts');
/** Decodes without throwing: one malformed signal must not wedge a saga (see the module). */
export const PAYLOAD_CONVERTER_PATH = path.resolve(
  __dirname,
  'sandbox/tolerantPayloadConverter.ts',
);
export const WORKFLOW_INTERCEPTOR_MODULES = [
  path.resolve(__dirname, 'sandbox/refuseUndecodableInput.ts'),
];

/** What a prebuilt bundle (bundleWorkflowCode) of the sagas must include. */
export const SAGA_BUNDLE_OPTIONS = {
  workflowsPath: WORKFLOWS_PATH,
  payloadConverterPath: PAYLOAD_CONVERTER_PATH,
  workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
};

export interface SagaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: SagaActivities;
  /**
   * A prebuilt bundle (production, tests), built with SAGA_BUNDLE_OPTIONS; without it the
   * worker bundles workflows/ at start.
   */
  workflowBundle?: WorkflowBundleOption;
  maxConcurrentActivityTaskExecutions?: number;
  /** 0 replays every workflow task: tests use it to shake out non-determinism. */
  maxCachedWorkflows?: number;
}

/** A worker that runs every saga and its activities on one task queue. */
export function createSagaWorker(options: SagaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : {
          workflowsPath: WORKFLOWS_PATH,
          interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
        }),
    dataConverter: { payloadConverterPath: PAYLOAD_CONVERTER_PATH },
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
