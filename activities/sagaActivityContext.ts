import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CommandContext } from '../src/application/commandHandler';
import { isRejection } from '../src/domain/decider';
import { StreamArchivedError } from '../src/eventstore';

/** Every activity input may carry the saga's correlation id (added by workflows/correlated.ts). */
export interface Correlated {
  correlationId?: string;
}

/**
 * The idempotency key of a saga step: the workflow id plus the step. Both stay the same
 * across retries (and across worker restarts), so the events it appends do too.
 */
export function stepContext(step: string, input: Correlated): CommandContext {
  const workflowId = Context.current().info.workflowExecution?.workflowId;
  if (!workflowId) throw new Error(`saga step ${step} must run inside a workflow`);
  return {
    commandId: `${workflowId}/${step}`,
    correlationId: input.correlationId,
    causationId: workflowId,
  };
}

/**
 * Business rejections become non-retryable failures with a type the workflow can match; so
 * does an append to an archived stream (retrying can never make it take events again).
 */
export async function asActivity<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isRejection(error)) {
      const rejection = error;
      throw ApplicationFailure.create({
        type: 'DomainRejection',
        message: rejection.message,
        nonRetryable: true,
        details: [{ code: rejection.code, details: rejection.details ?? {} }],
      });
    }
    if (error instanceof StreamArchivedError) {
      throw ApplicationFailure.create({
        type: 'StreamArchived',
        message: error.message,
        nonRetryable: true,
        details: [{ code: 'STREAM_ARCHIVED', streamId: error.streamId }],
      });
    }
    throw error;
  }
}
