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

/*
 * Plain `instanceof` is enough: Temporal's error classes answer it by a global symbol they
 * mark their instances with (SymbolBasedInstanceOfError), so it holds across module
 * registries (jest's included) and copies of the SDK.
 */

export function isWorkflowNotFound(error: unknown): error is WorkflowNotFoundError {
  return error instanceof WorkflowNotFoundError;
}

/** A start refused because the workflow id is taken. */
export function isWorkflowAlreadyStarted(
  error: unknown,
): error is WorkflowExecutionAlreadyStartedError {
  return error instanceof WorkflowExecutionAlreadyStartedError;
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
