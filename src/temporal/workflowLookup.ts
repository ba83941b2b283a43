import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';

/** Every execution status Temporal names (the client's WorkflowExecutionStatusName). */
export const WORKFLOW_EXECUTION_STATUSES = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
  'UNKNOWN',
] as const satisfies readonly WorkflowExecutionStatusName[];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const everyStatusListed: Same<
  (typeof WORKFLOW_EXECUTION_STATUSES)[number],
  WorkflowExecutionStatusName
> = true;
void everyStatusListed;

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
): Promise<{ status: WorkflowExecutionStatusName; runId: string } | undefined> {
  try {
    const description = await handle.describe();
    return { status: description.status.name, runId: description.runId };
  } catch (error) {
    if (isWorkflowNotFound(error)) return undefined;
    throw error;
  }
}
