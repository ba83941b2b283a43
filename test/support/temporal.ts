import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TEST_TEMPORAL_ADDRESS } from './infrastructure';

export const WORKFLOWS_PATH = path.resolve(__dirname, '../../workflows/index.ts');

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

export async function bundleWorkflows(
  workflowsPath = WORKFLOWS_PATH,
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
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
