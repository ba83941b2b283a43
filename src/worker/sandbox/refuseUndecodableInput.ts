import {
  ApplicationFailure,
  log,
  TemporalFailure,
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
 * A handler's error that is not a Temporal failure (a TypeError on input of the wrong
 * shape) fails the workflow task, not the call: the saga stalls and the caller learns
 * nothing. Rethrown as an ApplicationFailure, it fails only the update.
 */
const asUpdateFailure = (name: string, error: unknown): unknown =>
  error instanceof TemporalFailure
    ? error
    : ApplicationFailure.nonRetryable(
        `update ${name} failed on its input: ${String(error)}`,
        'BadUpdateInput',
      );

/**
 * Inputs whose payloads could not be decoded (see ./tolerantPayloadConverter.ts) never
 * reach a saga's handlers: a signal is dropped (with a warning in the worker's log), an
 * update or a query is refused, a start input fails the run visibly. A signal or update
 * handler that throws on input of the wrong shape fails neither the workflow task nor the
 * saga: the signal is dropped, the update fails with the reason. Deterministic: the same
 * bytes decode, and the same handlers throw, on every replay. Bundled into the workflow
 * sandbox.
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
    try {
      await next(input);
    } catch (error) {
      // A Temporal failure is the handler's decision to fail the saga: let it through.
      if (error instanceof TemporalFailure) throw error;
      log.warn('signal dropped: its handler failed on the input', {
        signal: input.signalName,
        error: String(error),
      });
    }
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
    try {
      if (hasUndecodable(input.args)) throw new Error('its input is not valid JSON');
      return await next(input);
    } catch (error) {
      throw asUpdateFailure(input.name, error);
    }
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
