import { CancellationScope, condition } from '@temporalio/workflow';
import type { OrderSagaStatus, TransferSagaStatus } from './definitions';
import type { SagaState } from './sagaState';

export interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * The saga's undo stack. Each compensation is registered *before* its step runs: an
 * activity can time out after its effect committed, and compensations are idempotent, so
 * undoing a step that never happened is harmless. Unwinding runs in reverse order inside
 * a non-cancellable scope; a compensation that keeps failing is never swallowed: the saga
 * parks in COMPENSATION_FAILED until an operator sends `retryCompensation`.
 */
export class CompensationStack {
  private readonly pending: Compensation[] = [];
  private retryRequested = false;

  constructor(private readonly saga: SagaState<OrderSagaStatus | TransferSagaStatus>) {}

  register(name: string, run: () => Promise<unknown>): void {
    this.pending.push({ name, run });
    this.saga.registerCompensation(name);
  }

  /** The `retryCompensation` signal: a parked unwind tries again. */
  requestRetry(): void {
    this.retryRequested = true;
  }

  /**
   * @param recordPark records the park in the saga's own aggregate (best effort: the park
   *   itself must not depend on the store being up).
   */
  async unwind(
    reason: string,
    recordPark: (name: string, error: unknown) => Promise<void>,
  ): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.pending.length > 0) {
        const next = this.pending[this.pending.length - 1]!;
        try {
          await next.run();
          this.pending.pop();
          this.saga.compensationRan(next.name);
        } catch (error) {
          this.saga.compensationParked(next.name, reason);
          await recordPark(next.name, error);
          await condition(() => this.retryRequested);
          this.retryRequested = false;
          this.saga.compensationResumed();
        }
      }
    });
  }
}
