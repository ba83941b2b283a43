import type { DatabaseFactory } from './database';

/** One comparison: ours against a baseline, in the same unit (higher is better). */
export interface BenchEntry {
  ours: number;
  baseline: number;
  /** ours ÷ baseline. */
  ratio: number;
  unit: string;
  oursP50Ms?: number;
  oursP99Ms?: number;
  baselineP50Ms?: number;
  baselineP99Ms?: number;
  /** The ratio the project aims for, when there is one. */
  goal?: number;
  /** Further details (counts, concurrency, ...). */
  [extra: string]: unknown;
}

export type BenchEntries = Record<string, BenchEntry>;

export interface BenchContext {
  /** Creates fresh databases on the benchmark server; all are dropped when the run ends. */
  databases: DatabaseFactory;
  /** BENCH_SCALE: multiplies every call count. */
  scale: number;
  /** A call count scaled by BENCH_SCALE, at least `min`. */
  scaled(base: number, min?: number): number;
  /** Status messages (stderr, so stdout keeps only the table). */
  log(message: string): void;
}

export interface BenchSuite {
  /** Used by `--only <name>`. */
  name: string;
  description: string;
  run(context: BenchContext): Promise<BenchEntries>;
}

export function compare(
  ours: { rate: number; p50Ms?: number; p99Ms?: number },
  baseline: { rate: number; p50Ms?: number; p99Ms?: number },
  unit: string,
  extra: Record<string, unknown> = {},
): BenchEntry {
  return {
    ours: ours.rate,
    baseline: baseline.rate,
    ratio: ours.rate / baseline.rate,
    unit,
    ...(ours.p50Ms !== undefined && { oursP50Ms: ours.p50Ms }),
    ...(ours.p99Ms !== undefined && { oursP99Ms: ours.p99Ms }),
    ...(baseline.p50Ms !== undefined && { baselineP50Ms: baseline.p50Ms }),
    ...(baseline.p99Ms !== undefined && { baselineP99Ms: baseline.p99Ms }),
    ...extra,
  };
}
