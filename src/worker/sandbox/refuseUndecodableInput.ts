import {
  ApplicationFailure,
  log,
  type Next,
  type QueryInput,
  type SignalInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { isUndecodable } from './tolerantPayloadConverter';

const hasUndecodable = (args: readonly unknown[]) => args.some(isUndecodable);

/**
 * Inputs whose payloads could not be decoded (see ./tolerantPayloadConverter.ts) never
 * reach a saga's handlers: a signal is dropped (with a warning in the worker's log), an
 * update or a query is refused, a start input fails the run visibly. Deterministic: the
 * same bytes decode the same way on every replay. Bundled into the workflow sandbox.
 */
class RefuseUndecodableInput implements WorkflowInboundCallsInterceptor {
  async execute(
    input: WorkflowExecuteInput,
    next: Next<WorkflowInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    if (hasUndecodable(input.args))
      throw ApplicationFailure.nonRetryable('the start input is not valid JSON', 'BadInput');
    return next(input);
  }

  async handleSignal(
    input: SignalInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>,
  ): Promise<void> {
    if (hasUndecodable(input.args)) {
      log.warn('signal dropped: its input is not valid JSON', { signal: input.signalName });
      return;
    }
    return next(input);
  }

  validateUpdate(
    input: UpdateInput,
    next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>,
  ) {
    if (hasUndecodable(input.args))
      throw new Error(`update ${input.name}: input is not valid JSON`);
    next(input);
  }

  async handleUpdate(
    input: UpdateInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>,
  ): Promise<unknown> {
    if (hasUndecodable(input.args))
      throw new Error(`update ${input.name}: input is not valid JSON`);
    return next(input);
  }

  async handleQuery(
    input: QueryInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>,
  ): Promise<unknown> {
    if (hasUndecodable(input.args))
      throw new Error(`query ${input.queryName}: input is not valid JSON`);
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new RefuseUndecodableInput()],
});
