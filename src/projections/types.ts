import type { ClientBase, Pool } from 'pg';
import type { EventStore, RecordedEvent, SqlExecutor } from '../eventstore';

/**
 * What projection work runs on: connections from the pool, events read through the store.
 * Both are given (a System or a TestDatabase is one): a store built here would lack the
 * process's upcasters and hooks.
 */
export interface ProjectionSource {
  pool: Pool;
  eventStore: EventStore;
}

/**
 * A projection keeps one read model up to date. Its rows live in `<name>_g<generation>`
 * tables; readers use the view `<name>`, which a rebuild repoints in one transaction.
 *
 * `handle` runs inside a transaction it is given (a pg PoolClient or Client) and must be
 * idempotent: every row keyed by a stream records the stream version it reflects, and an
 * event is applied only when `event.version === row.version + 1` (or the row is absent and
 * the version is 1). Inline and catch-up projection can then both deliver the same event.
 * A projection must therefore handle every event type of the streams it keys rows by.
 */
export interface Projection {
  /** Lower-case SQL identifier; also the name of the view readers query. */
  readonly name: string;
  /** Bump to rebuild from position 0 (new logic or new columns). */
  readonly version: number;
  readonly eventTypes: readonly string[];
  /**
   * Where one stream's row lives, for `rebuild <name> --stream` (rebuildStreams.ts): the
   * row whose `column` holds the stream id without `streamPrefix` (`order-42` → order_id
   * `42`). Absent: the projection can only be rebuilt whole.
   */
  readonly streamRows?: StreamRows;
  /**
   * A read model of live data only (e.g. open orders): it reads the hot events alone and
   * skips archived streams (src/archiving/), so its rebuilds read far less. Only for read
   * models that hold nothing of a finished aggregate.
   */
  readonly liveOnly?: boolean;
  /**
   * Split the projection into this many segments by a stable hash of the stream id, each
   * with its own checkpoint and owner (runners spread them over processes). Unset: the
   * runner's `segments` option (PROJECTION_SEGMENTS), else 1.
   */
  readonly segments?: number;
  /**
   * Creates the table(s) of one generation; `table` is e.g. `order_summary_g2`. The one source
   * of a read model's DDL: a change bumps `version`, and the rebuild builds the next
   * generation from here. Generation 1 of the built-in read models was also written into a
   * migration (1700000000100), so reads work before any projector ran; a migration is
   * history that deployed databases already applied, so it is not edited to follow, and
   * test/projections/readModelDdl checks that it still matches while generation 1 serves.
   */
  createTables(db: SqlExecutor, table: string): Promise<void>;
  /** Applies one event to `table` inside the caller's transaction. */
  handle(db: ClientBase, event: RecordedEvent, table: string): Promise<void>;
  /**
   * Applies a batch of events (log order) to `table` inside the caller's transaction, with
   * the same outcome as `handle` per event but fewer statements (see keyedRows.ts). The
   * engine uses it when present.
   */
  applyBatch?(db: ClientBase, events: readonly RecordedEvent[], table: string): Promise<void>;
}

export interface StreamRows {
  readonly column: string;
  readonly streamPrefix: string;
}

export class UnknownProjectionError extends Error {
  override readonly name = 'UnknownProjectionError';
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;

export function assertProjectionName(name: string): void {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`projection name ${JSON.stringify(name)} must match ${IDENTIFIER}`);
  }
}

export const generationTable = (name: string, generation: number): string => {
  assertProjectionName(name);
  if (!Number.isInteger(generation) || generation < 1)
    throw new Error(`bad generation ${generation}`);
  return `${name}_g${generation}`;
};
