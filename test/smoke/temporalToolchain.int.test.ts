import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import * as activities from '../fixtures/smokeActivities';
import { bundleWorkflows, connectTestTemporal, uniqueTaskQueue } from '../support/temporal';

describe('Temporal toolchain under jest', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await connectTestTemporal();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow with one activity on the dev server', async () => {
    const taskQueue = uniqueTaskQueue('smoke');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleWorkflows(
        path.resolve(__dirname, '../fixtures/smokeWorkflow.ts'),
      ),
      activities,
    });
    const result = await worker.runUntil(
      env.client.workflow.execute<(name: string) => Promise<string>>('smokeWorkflow', {
        taskQueue,
        workflowId: `smoke-${taskQueue}`,
        args: ['Ada'],
      }),
    );
    expect(result).toBe('workflow says: hello Ada from greet');
  });
});
