import { condition, log } from '@temporalio/workflow';
import type { OrderSagaStatus, TransferSagaStatus } from './definitions';
import { businessReason } from './failures';
import type { SagaState } from './sagaState';

/**
 * Steps after the pivot only move forward. Infrastructure errors are retried without limit
 * (forwardOptions): after a timeout the effect may or may not have happened, and only the
 * idempotent retry can tell. A business rejection is different: the domain said no, and
 * asking again gets the same answer. Such a step parks the saga in FORWARD_STEP_FAILED
 * (status query, SagaStatus, UI details name the step and the reason) until an operator
 * fixes the cause and sends `retryStep`; it neither fails the saga half-done nor loops.
 */
export class ForwardSteps {
  private retryRequested = false;
  /** Set while a forward step is parked: only then does `retryStep` count. */
  private parked = false;

  constructor(private readonly saga: SagaState<OrderSagaStatus | TransferSagaStatus>) {}

  /**
   * The `retryStep` signal: a parked forward step tries again. One sent while nothing is
   * parked is ignored (logged; a park forgets it, see parkUntilRetried), so it never arms a
   * retry unattended.
   */
  requestRetry(): void {
    if (!this.parked) {
      log.warn('retryStep ignored: no forward step is parked', {
        sagaType: this.saga.view.sagaType,
        businessId: this.saga.view.businessId,
      });
    }
    this.retryRequested = true;
  }

  async run<T>(name: string, step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await this.saga.step(name, step);
      } catch (error) {
        const reason = businessReason(error);
        if (reason === undefined) throw error;
        await this.parkUntilRetried(name, reason);
      }
    }
  }

  private async parkUntilRetried(name: string, reason: string): Promise<void> {
    log.error('saga parked: a forward step was rejected', {
      sagaType: this.saga.view.sagaType,
      businessId: this.saga.view.businessId,
      step: name,
      reason,
    });
    // Only a signal from here on counts: one sent before this park is forgotten.
    this.retryRequested = false;
    this.parked = true;
    const resumeAs = this.saga.forwardStepParked(name, reason);
    await condition(() => this.retryRequested);
    this.retryRequested = false;
    this.parked = false;
    this.saga.forwardStepResumed(resumeAs);
  }
}
