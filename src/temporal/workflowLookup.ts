import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';

/** By name too: `instanceof` fails across module registries (jest). */
export function isWorkflowNotFound(error: unknown): boolean {
  return (
    error instanceof WorkflowNotFoundError ||
    (error as Error | undefined)?.name === 'WorkflowNotFoundError'
  );
}

/** A start refused because the workflow id is taken (by name too, as above). */
export function isWorkflowAlreadyStarted(error: unknown): boolean {
  return (
    error instanceof WorkflowExecutionAlreadyStartedError ||
    (error as Error | undefined)?.name === 'WorkflowExecutionAlreadyStartedError'
  );
}

/** A workflow's execution status and run, or undefined when there is no such workflow. */
export async function describeWorkflow(
  handle: WorkflowHandle,
): Promise<{ status: string; runId: string } | undefined> {
  try {
    const description = await handle.describe();
    return { status: description.status.name, runId: description.runId };
  } catch (error) {
    if (isWorkflowNotFound(error)) return undefined;
    throw error;
  }
}
