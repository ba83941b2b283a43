/**
 * Live projector processes: each runner writes a heartbeat row every poll interval and
 * counts the live ones, so runners can split the projections and segments between them
 * (each owns at most ceil(slots / live runners)). A runner that stops beating drops out
 * after a few poll intervals; the advisory locks, not this table, keep owners unique.
 */
import type { Pool } from 'pg';
import type { Projection } from './types';

/** Heartbeats a runner may miss before the others count it gone. */
const MISSED_BEATS = 3;

/** A projection's segment count: its own, else the runners' setting, else 1. */
export function segmentCountOf(projection: Projection, configured?: number): number {
  const count = projection.segments ?? configured ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 256) {
    throw new Error(`projection ${projection.name}: segments must be 1..256, not ${count}`);
  }
  return count;
}

export interface HeartbeatOptions {
  runnerId: string;
  pollIntervalMs: number;
  /** Loops this runner has (projections and segments); every runner is assumed alike. */
  slots: number;
  log: (message: string, error?: unknown) => void;
  /** After each beat (the share may have changed). */
  onTick: () => void;
}

export class RunnerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private live = 1;

  constructor(
    private readonly pool: Pool,
    private readonly options: HeartbeatOptions,
  ) {}

  /** How many loops this runner may own now. */
  get share(): number {
    return Math.ceil(this.options.slots / Math.max(1, this.live));
  }

  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pool
      .query('DELETE FROM projection_runners WHERE runner_id = $1', [this.options.runnerId])
      .catch((error: unknown) => this.options.log('could not remove the runner heartbeat', error));
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.beat()
        .catch((error: unknown) => this.options.log('runner heartbeat failed', error))
        .finally(() => {
          if (this.timer) this.schedule();
        });
    }, this.options.pollIntervalMs);
  }

  private async beat(): Promise<void> {
    const { runnerId, pollIntervalMs } = this.options;
    const result = await this.pool.query<{ live: number }>(
      `WITH beat AS (
         INSERT INTO projection_runners (runner_id, host, pid, expires_at)
         VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (runner_id) DO UPDATE
           SET heartbeat_at = now(), expires_at = excluded.expires_at
       ),
       gone AS (DELETE FROM projection_runners WHERE expires_at < now() - interval '1 minute')
       SELECT 1 + count(*)::int AS live FROM projection_runners
        WHERE expires_at > now() AND runner_id <> $1`,
      [runnerId, runnerId.split(':')[0], process.pid, MISSED_BEATS * pollIntervalMs],
    );
    this.live = result.rows[0]?.live ?? 1;
    this.options.onTick();
  }
}
