/**
 * The DDL of a rebuild: a fresh generation table to build into, and the switch of the
 * projection's view to it once it has caught up. The checkpoint writes that go with each
 * live in checkpoints.ts; running the batches in between is the engine's (engine.ts).
 */
import type { ClientBase } from 'pg';
import type { EventStore } from '../eventstore';
import { promoteRebuildCheckpoint, readCheckpoint, startRebuildCheckpoint } from './checkpoints';
import { wholeProjection, type StepTarget } from './engine';
import { inTransaction } from './transaction';
import { generationTable, type Projection } from './types';

/**
 * Starts a rebuild: a fresh generation table, its own checkpoint at 0. An unfinished
 * earlier rebuild (its process died) is dropped and started afresh.
 */
export async function beginRebuild(conn: ClientBase, projection: Projection): Promise<number> {
  return inTransaction(conn, async () => {
    const checkpoint = await readCheckpoint(conn, projection.name, true);
    if (!checkpoint) throw new Error(`no checkpoint row for projection ${projection.name}`);
    if (checkpoint.rebuildGeneration !== null) {
      await conn.query(
        `DROP TABLE IF EXISTS ${generationTable(projection.name, checkpoint.rebuildGeneration)}`,
      );
    }
    const generation = Math.max(checkpoint.generation, checkpoint.rebuildGeneration ?? 0) + 1;
    const table = generationTable(projection.name, generation);
    await conn.query(`DROP TABLE IF EXISTS ${table}`);
    await projection.createTables(conn, table);
    await startRebuildCheckpoint(conn, projection.name, generation, projection.version);
    return generation;
  });
}

/**
 * Switches readers to the rebuilt generation when it has caught up (each of its segments, if
 * it is split): in one transaction
 * the view is repointed, the checkpoint takes the rebuild's position and the old tables
 * go. Returns false (nothing changed) when there are still events to apply.
 */
export async function trySwitchOver(
  conn: ClientBase,
  store: EventStore,
  projection: Projection,
  parts: readonly StepTarget[] = [wholeProjection(projection)],
): Promise<boolean> {
  return inTransaction(conn, async () => {
    const checkpoint = await readCheckpoint(conn, projection.name, true);
    if (!checkpoint || checkpoint.rebuildGeneration === null) {
      throw new Error(`projection ${projection.name} has no rebuild in progress`);
    }
    // Every part (the whole projection, or each segment) must have read all there is.
    for (const part of parts) {
      const row =
        part.checkpoint === projection.name
          ? checkpoint
          : await readCheckpoint(conn, part.checkpoint, true);
      if (row?.rebuildPosition == null || row.rebuildGeneration !== checkpoint.rebuildGeneration) {
        throw new Error(`${part.checkpoint} has no rebuild in progress`);
      }
      const next = await store.readAll({
        after: row.rebuildPosition,
        limit: 1,
        eventTypes: projection.eventTypes,
        ...(part.segment && { segment: part.segment }),
      });
      if (next.lastPosition !== row.rebuildPosition) return false;
    }
    await pointViewAt(
      conn,
      projection,
      generationTable(projection.name, checkpoint.rebuildGeneration),
    );
    await promoteRebuildCheckpoint(conn, projection.name);
    await conn.query(
      `DROP TABLE IF EXISTS ${generationTable(projection.name, checkpoint.generation)}`,
    );
    return true;
  });
}

/** Repoints the projection's view at `table`, inside the caller's transaction. */
async function pointViewAt(
  conn: ClientBase,
  projection: Pick<Projection, 'name'>,
  table: string,
): Promise<void> {
  await conn.query('SAVEPOINT switch_view');
  try {
    await conn.query(`CREATE OR REPLACE VIEW ${projection.name} AS SELECT * FROM ${table}`);
  } catch {
    // The new version changed the columns in a way a view replacement cannot follow.
    await conn.query('ROLLBACK TO SAVEPOINT switch_view');
    await conn.query(`DROP VIEW ${projection.name}`);
    await conn.query(`CREATE VIEW ${projection.name} AS SELECT * FROM ${table}`);
  }
}
