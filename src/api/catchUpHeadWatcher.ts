/**
 * One poll loop per API process for all the live SSE feeds that are up to date.
 *
 * Each feed used to poll the event store on its own every `ssePollMs`, so a hundred idle
 * clients cost four hundred queries a second on the shared pool. Now the feeds that have
 * read everything wait here, and this watcher alone polls a single cheap query (the
 * catch-up head) while anyone waits; when the head moves, every waiter wakes and reads its
 * own page once.
 *
 * Usage, race-free: take `version` before a read, and after the read wait with
 * `waitForChange(version, ...)`: any head movement after that point wakes the waiter, even
 * one that happened during the read (a spurious re-read, never a missed event).
 */
export class CatchUpHeadWatcher {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private polling = false;
  private lastHead: bigint | undefined;
  private readonly closed = new AbortController();

  constructor(
    private readonly readHead: () => Promise<bigint>,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Moves every time the head is seen to move. */
  get version(): number {
    return this.generation;
  }

  /** Resolves when the head moved since `version`, after `timeoutMs`, or on abort. */
  waitForChange(version: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (version !== this.generation || signal.aborted || this.closed.signal.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
      this.startPolling();
    });
  }

  /** Wakes every waiter and stops polling for good (the app is closing). */
  close(): void {
    this.closed.abort();
    this.wakeAll();
  }

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    // The last head seen stays the baseline while nobody waits: the head only moves forward,
    // so a move in between still shows as a difference (and wakes) at the next poll.
    void this.poll().finally(() => {
      this.polling = false;
    });
  }

  private async poll(): Promise<void> {
    while (this.waiters.size > 0 && !this.closed.signal.aborted) {
      try {
        const head = await this.readHead();
        // The very first sighting has no baseline: wake anyway (one spurious read each).
        if (this.lastHead === undefined || head !== this.lastHead) {
          this.lastHead = head;
          this.generation += 1;
          this.wakeAll();
        }
      } catch (error) {
        // The feeds' heartbeats re-read on their own; keep watching.
        this.onError(error);
      }
      await delay(this.pollMs, this.closed.signal);
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
