import type { Pool } from 'pg';
import type { PostgresEventStore } from '../../../src/eventstore';
import type { SagaRecord } from '../sagaRecord';

/** One line of the report: an invariant by name, whether it held, and the evidence. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the checks look at once every saga has ended and every process stopped. */
export interface InvariantInput {
  pool: Pool;
  store: PostgresEventStore;
  sagas: SagaRecord[];
  depositsSent: number;
  restockedSent: Record<string, number>;
  distinctKeys: number;
  temporalWorkflowCount: number;
  merchantAccountId: string;
}

export type Figures = Record<string, number | string>;

/** What one invariant found, and the figures it measured on the way (for the report). */
export interface Verdict {
  ok: boolean;
  detail: string;
  figures?: Figures;
}

/** One named invariant of a finished run (over what `Input` gives it to look at). */
export interface Invariant<Input = InvariantInput> {
  name: string;
  check(input: Input): Promise<Verdict>;
}

/** A few items, for a check's detail. */
export const sample = (items: unknown[], n = 5) =>
  items.length === 0
    ? ''
    : ` e.g. ${items
        .slice(0, n)
        .map((i) => JSON.stringify(i))
        .join('; ')}`;

/**
 * A fact several checks read (an account replay, a rebuild), computed once per run: the
 * first check that asks computes it, later ones get the same promise. A run is one input
 * object (checkInvariants makes a fresh one per call).
 */
export function sharedFact<T, Input extends object = InvariantInput>(
  compute: (input: Input) => Promise<T>,
): (input: Input) => Promise<T> {
  const computed = new WeakMap<Input, Promise<T>>();
  return (input) => {
    let fact = computed.get(input);
    if (!fact) {
      fact = compute(input);
      computed.set(input, fact);
    }
    return fact;
  };
}

/** The first row's count column of a `SELECT count(*) AS n ...`, as a number. */
export async function countOf(pool: Pool, sql: string): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
}
