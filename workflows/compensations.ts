import { CancellationScope, condition, log, patched } from '@temporalio/workflow';
import type { OrderSagaStatus, TransferSagaStatus } from './definitions';
import type { SagaState } from './sagaState';

/**
 * A `retryCompensation` signal counted whenever it arrived: one sent before any park (while
 * the unwind was still running, or before it began) armed a retry round nobody asked for,
 * and the next park resumed at once. Runs with this patch count the signal only while the
 * saga is parked: a park forgets any earlier one. Without the patch (histories where an
 * early signal was consumed) the old behaviour replays.
 */
export const RETRY_COMPENSATION_ONLY_WHEN_PARKED_PATCH = 'retry-compensation-only-when-parked';

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
  /** Set while a compensation is parked: only then does `retryCompensation` count. */
  private parked = false;

  constructor(private readonly saga: SagaState<OrderSagaStatus | TransferSagaStatus>) {}

  register(name: string, run: () => Promise<unknown>): void {
    this.pending.push({ name, run });
    this.saga.registerCompensation(name);
  }

  /**
   * The `retryCompensation` signal: a parked unwind tries again. One that arrives while
   * nothing is parked is ignored (logged): the park that may follow forgets it (see
   * RETRY_COMPENSATION_ONLY_WHEN_PARKED_PATCH), so it never arms a retry unattended.
   */
  requestRetry(): void {
    if (!this.parked) {
      log.warn('retryCompensation ignored: no compensation is parked', {
        sagaType: this.saga.view.sagaType,
        businessId: this.saga.view.businessId,
      });
    }
    // Still set when not parked: runs without the patch consumed it at their next park.
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
          // Only a signal from here on counts: one sent before this park is forgotten.
          if (patched(RETRY_COMPENSATION_ONLY_WHEN_PARKED_PATCH)) this.retryRequested = false;
          this.parked = true;
          this.saga.compensationParked(next.name, reason);
          await recordPark(next.name, error);
          await condition(() => this.retryRequested);
          this.retryRequested = false;
          this.parked = false;
          this.saga.compensationResumed();
        }
      }
    });
  }
}
