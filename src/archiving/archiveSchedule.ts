import type { Pool } from 'pg';
import { archiveFinishedStreams, type ArchiveOptions, type ArchiveResult } from './archiver';

export interface ArchiveScheduleOptions extends Omit<ArchiveOptions, 'now' | 'dryRun'> {
  intervalMs: number;
  onRun?: (result: ArchiveResult) => void;
  onError?: (error: unknown) => void;
}

/**
 * Runs an archiving pass every `intervalMs` (the first one after one interval, so a
 * restarting process does not add a scan to its start). Several processes may run it: the
 * archiver's advisory lock lets one move at a time, the others find nothing left.
 */
export class ArchiveSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly pool: Pool,
    private readonly options: ArchiveScheduleOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      this.options.onRun?.(await archiveFinishedStreams(this.pool, this.options));
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
