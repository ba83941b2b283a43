/**
 * Checkpoint writes of successive pages, run one after another in page order while the
 * pages behind them publish. A write runs only when every earlier one succeeded; once one
 * fails (or returns undefined: the checkpoint moved under the relay), none of the later
 * ones runs, so a checkpoint never passes a page that was not fully acknowledged.
 */
export class CheckpointChain {
  private tail: Promise<void> = Promise.resolve();
  /** Writes queued and not finished, oldest first. */
  private readonly queued: Array<Promise<void>> = [];
  private acked = 0;
  private failure: { error: unknown } | undefined;
  private halted = false;

  /** False once a write failed or halted: the caller stops adding pages. */
  get going(): boolean {
    return !this.failure && !this.halted;
  }

  /** Queues a page's write; it returns the messages it checkpointed, or undefined to halt. */
  add(write: () => Promise<number | undefined>): void {
    const link = this.tail.then(async () => {
      try {
        if (!this.going) return;
        const acked = await write();
        if (acked === undefined) this.halted = true;
        else this.acked += acked;
      } catch (error) {
        this.failure = { error };
      } finally {
        void this.queued.shift(); // this link: they finish in order
      }
    });
    this.queued.push(link);
    this.tail = link;
  }

  /** Resolves once fewer than `count` writes are queued (the oldest ones finished). */
  async fewerThan(count: number): Promise<void> {
    while (this.queued.length >= count) await this.queued[0];
  }

  /** Resolves when every queued write ran (or was skipped). */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Messages checkpointed once all writes ran; rejects with the first failure. */
  async done(): Promise<number> {
    await this.tail;
    if (this.failure) throw this.failure.error;
    return this.acked;
  }
}
