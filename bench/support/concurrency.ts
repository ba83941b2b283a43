import { createProgress } from './progress';

export interface ConcurrentRunOptions {
  /** Label of the progress line. */
  label: string;
  /** How many calls in total. */
  calls: number;
  /** How many callers run at once; each starts its next call when the previous one ends. */
  concurrency: number;
  /** One call; `index` runs from 0 to calls - 1. */
  call: (index: number) => Promise<unknown>;
}

export interface ConcurrentRunResult {
  calls: number;
  elapsedMs: number;
  /** Per-call latency, in call completion order. */
  latenciesMs: Float64Array;
  callsPerSecond: number;
}

/** Runs `calls` calls with `concurrency` callers (a closed loop) and times each call. */
export async function runConcurrently(options: ConcurrentRunOptions): Promise<ConcurrentRunResult> {
  const { calls, call } = options;
  const concurrency = Math.max(1, Math.min(options.concurrency, calls));
  const latenciesMs = new Float64Array(calls);
  const progress = createProgress(options.label, calls);
  let next = 0;
  let finished = 0;
  let failed = false;

  const caller = async (): Promise<void> => {
    while (next < calls && !failed) {
      const index = next++;
      const started = performance.now();
      try {
        await call(index);
      } catch (error) {
        failed = true; // the other callers stop after their current call
        throw error;
      }
      latenciesMs[finished++] = performance.now() - started;
      progress.tick();
    }
  };

  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, caller));
  } finally {
    progress.done();
  }
  const elapsedMs = performance.now() - started;
  return { calls, elapsedMs, latenciesMs, callsPerSecond: (calls / elapsedMs) * 1000 };
}
