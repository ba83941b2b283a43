import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleSagaWorkflows } from '../../src/worker/createWorker';
import { TEST_TEMPORAL_ADDRESS } from './infrastructure';

/** Connects to the dev server globalSetup started. */
export async function connectTestTemporal(): Promise<TestWorkflowEnvironment> {
  const address = process.env[TEST_TEMPORAL_ADDRESS];
  if (!address) throw new Error('No Temporal dev server: run the tests through jest');
  return TestWorkflowEnvironment.createFromExistingServer({ address });
}

/** A task queue no other test file uses. */
export function uniqueTaskQueue(label: string): string {
  return `${label}-${randomUUID()}`;
}

/**
 * The sagas' bundle as production builds it (payload converter and workflow interceptors
 * included). `workflowsPath` swaps the workflows only (a deliberately broken copy).
 */
export async function bundleWorkflows(
  workflowsPath?: string,
): Promise<WorkflowBundleWithSourceMap> {
  return bundleSagaWorkflows({ logger: quietLogger, ...(workflowsPath && { workflowsPath }) });
}

const noop = () => {};
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: console.error,
  log: noop,
};
