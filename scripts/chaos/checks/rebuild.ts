/** Every read model equals a full rebuild from the events, row for row. */
import type { Pool } from 'pg';
import {
  rebuildProjection,
  type Projection,
  type ProjectionSource,
} from '../../../src/projections';
import { sample, sharedFact, type InvariantInput, type Invariant } from './types';

interface Comparison {
  live: number;
  rebuilt: number;
  generation: number;
  diffs: unknown[];
}

/** Each projection's live rows, then a rebuild, then its rows again (in list order, once). */
const rebuildComparisons = (projections: readonly Projection[]) =>
  sharedFact(async ({ pool, store }: InvariantInput) => {
    const comparisons = new Map<string, Comparison>();
    for (const projection of projections) {
      const source = { pool, eventStore: store };
      comparisons.set(projection.name, await compareWithRebuild(source, projection.name));
    }
    return comparisons;
  });

async function compareWithRebuild(source: ProjectionSource, name: string): Promise<Comparison> {
  const { pool } = source;
  const before = await snapshotRows(pool, name);
  const rebuilt = await rebuildProjection(source, name);
  const after = await snapshotRows(pool, name);
  const diffs: unknown[] = [];
  for (const [id, row] of before) {
    const other = after.get(id);
    if (other === undefined) diffs.push({ id, missingAfterRebuild: true });
    else if (other !== row)
      diffs.push({ id, live: JSON.parse(row) as unknown, rebuilt: JSON.parse(other) as unknown });
  }
  for (const id of after.keys()) if (!before.has(id)) diffs.push({ id, onlyAfterRebuild: true });
  return { live: before.size, rebuilt: after.size, generation: rebuilt.generation, diffs };
}

/**
 * One invariant per projection, `read model <name> = rebuild from events`, and the figure of
 * rows compared over all of them (reported after the checks).
 */
export function rebuildInvariants(projections: readonly Projection[]): {
  invariants: Invariant[];
  rowsCompared: (input: InvariantInput) => Promise<number>;
} {
  const comparisons = rebuildComparisons(projections);
  const invariants = projections.map((projection): Invariant => ({
    name: `read model ${projection.name} = rebuild from events`,
    async check(input) {
      const c = (await comparisons(input)).get(projection.name)!;
      return {
        ok: c.diffs.length === 0,
        detail: `${c.live} rows, ${c.diffs.length} differ${sample(c.diffs, 3)}`,
        figures: {
          [`${projection.name} rows (live = rebuilt gen ${c.generation})`]: `${c.live} = ${c.rebuilt}`,
        },
      };
    },
  }));
  const rowsCompared = async (input: InvariantInput) => {
    let rows = 0;
    for (const c of (await comparisons(input)).values()) rows += c.live;
    return rows;
  };
  return { invariants, rowsCompared };
}

async function snapshotRows(pool: Pool, view: string): Promise<Map<string, string>> {
  const result = await pool.query(`SELECT * FROM ${view}`);
  const key = result.fields[0]!.name;
  const rows = new Map<string, string>();
  for (const row of result.rows as Array<Record<string, unknown>>) {
    rows.set(
      String(row[key]),
      JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    );
  }
  return rows;
}
