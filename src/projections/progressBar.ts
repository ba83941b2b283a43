import { Presets, SingleBar } from 'cli-progress';

/** What a rebuild or a replay reports as it goes. */
export interface EventProgress {
  done: number;
  /** Grows while new events arrive. */
  total: number;
  eventsPerSecond: number;
}

/** The CLI's progress bar for work over events (rebuild, replay); `update` starts it. */
export function progressBar(label: string): {
  update: (progress: EventProgress) => void;
  stop: () => void;
} {
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const payload = { rate: Math.round(progress.eventsPerSecond).toLocaleString('en-US') };
      if (!started) {
        bar.start(Math.max(progress.total, 1), progress.done, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(progress.total, 1));
        bar.update(progress.done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
