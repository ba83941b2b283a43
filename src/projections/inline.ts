import type { Pool } from 'pg';
import type { RecordedEvent } from '../eventstore';
import { readCheckpoint } from './checkpoints';
import { messageOf } from './engine';
import { generationTable, type Projection } from './types';

export type InlineProjector = (events: RecordedEvent[]) => Promise<void>;

/**
 * Applies a command's freshly stored events to every interested projection right away
 * (read-your-writes for the API), one transaction per projection. It never throws: a
 * failure is logged and the catch-up runner, which applies the same events idempotently,
 * repairs the read model. Pass it as CommandHandlerOptions.afterAppend.
 */
export function createInlineProjector(
  pool: Pool,
  projections: readonly Projection[],
  log: (message: string, error?: unknown) => void = (message) => console.warn(message),
): InlineProjector {
  const handled = projections.map((projection) => ({
    projection,
    types: new Set(projection.eventTypes),
  }));
  return async (events) => {
    for (const { projection, types } of handled) {
      const mine = events.filter((event) => types.has(event.type));
      if (mine.length === 0) continue;
      try {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const checkpoint = await readCheckpoint(client, projection.name);
          // Unknown projection, or a new version still rebuilding: leave it to catch-up.
          if (checkpoint && checkpoint.version === projection.version) {
            const table = generationTable(projection.name, checkpoint.generation);
            if (projection.applyBatch) await projection.applyBatch(client, mine, table);
            else for (const event of mine) await projection.handle(client, event, table);
          }
          await client.query('COMMIT');
          client.release();
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release(true);
          throw error;
        }
      } catch (error) {
        log(
          `inline projection ${projection.name} failed (catch-up will repair): ${messageOf(error)}`,
          error,
        );
      }
    }
  };
}
