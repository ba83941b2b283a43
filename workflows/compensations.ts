import { CancellationScope, condition } from '@temporalio/workflow';

export interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

export interface CompensationHooks {
  onRun(name: string): void;
  /** A compensation failed after all its retries: the saga parks until an operator retries. */
  onParked(name: string, error: unknown): Promise<void>;
  onResumed(): void;
  /** True once an operator sent retryCompensation since the last park. */
  retryRequested(): boolean;
  clearRetryRequest(): void;
}

/**
 * The saga's undo stack. Each compensation is registered *before* its step runs: an
 * activity can time out after its effect committed, and compensations are idempotent, so
 * undoing a step that never happened is harmless. Unwinding runs in reverse order inside
 * a non-cancellable scope; a compensation that keeps failing is never swallowed.
 */
export class CompensationStack {
  private readonly pending: Compensation[] = [];

  register(name: string, run: () => Promise<unknown>): void {
    this.pending.push({ name, run });
  }

  get registered(): string[] {
    return this.pending.map((c) => c.name);
  }

  async unwind(hooks: CompensationHooks): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.pending.length > 0) {
        const next = this.pending[this.pending.length - 1]!;
        try {
          await next.run();
          this.pending.pop();
          hooks.onRun(next.name);
        } catch (error) {
          await hooks.onParked(next.name, error);
          await condition(() => hooks.retryRequested());
          hooks.clearRetryRequest();
          hooks.onResumed();
        }
      }
    });
  }
}
