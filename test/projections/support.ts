import type { RecordedEvent } from '../../src/eventstore';
import {
  getProjectionStatuses,
  type Projection,
  type ProjectionStatus,
} from '../../src/projections';
import type { TestDatabase } from '../support/testDatabase';

/**
 * A deliberately NON-idempotent test projection: one row per application. Counting rows
 * shows how often the runner delivered each event (exactly-once checks).
 */
export function logProjection(
  name: string,
  options: { poison?: (event: RecordedEvent) => boolean } = {},
): Projection {
  return {
    name,
    version: 1,
    eventTypes: ['Tick'],
    async createTables(db, table) {
      await db.query(
        `CREATE TABLE IF NOT EXISTS ${table} (position bigint NOT NULL, stream_id text NOT NULL, version integer NOT NULL)`,
      );
    },
    async handle(db, event, table) {
      if (options.poison?.(event)) throw new Error(`poison event ${event.eventId}`);
      await db.query(`INSERT INTO ${table} (position, stream_id, version) VALUES ($1, $2, $3)`, [
        event.globalPosition.toString(),
        event.streamId,
        event.version,
      ]);
    },
  };
}

let streamCounter = 0;

/** Appends `count` Tick events, several per stream and per append. Returns their positions. */
export async function appendTicks(
  db: TestDatabase,
  count: number,
  data: (index: number) => Record<string, unknown> = () => ({}),
): Promise<bigint[]> {
  const positions: bigint[] = [];
  let index = 0;
  while (index < count) {
    const n = Math.min(5, count - index);
    const streamId = `tick-${++streamCounter}-${process.pid}`;
    const start = index;
    // Tick is no domain event: the store that knows none writes it.
    const result = await db.genericEventStore.append(
      streamId,
      Array.from({ length: n }, (_, i) => ({
        eventId: crypto.randomUUID(),
        type: 'Tick',
        data: { n: start + i, ...data(start + i) },
      })),
      { expectedVersion: 'no_stream' },
    );
    for (let p = result.firstPosition; p <= result.lastPosition; p++) positions.push(p);
    index += n;
  }
  return positions;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function statusOf(
  db: TestDatabase,
  projection: Projection,
): Promise<ProjectionStatus> {
  const [status] = await getProjectionStatuses(db.pool, [projection]);
  if (!status) throw new Error(`no status for ${projection.name}`);
  return status;
}

/**
 * Events of the projection's types after its checkpoint, including those the store still
 * holds back because some transaction of the cluster (another test file's, say) that began
 * before them is still open. Status lag leaves those out, so lag 0 alone can come too early.
 */
async function unappliedEvents(db: TestDatabase, projection: Projection, checkpoint: string) {
  const result = await db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM events
      WHERE (transaction_id, global_position) >
            (coalesce((SELECT transaction_id FROM events WHERE global_position = $1), '0'::xid8), $1::bigint)
        AND event_type = ANY($2)`,
    [checkpoint, projection.eventTypes],
  );
  return Number(result.rows[0]!.n);
}

export function waitCaughtUp(db: TestDatabase, projection: Projection, timeoutMs?: number) {
  return waitFor(
    async () => {
      const status = await statusOf(db, projection);
      return (
        status.lagEvents === 0 &&
        status.state !== 'failing' &&
        (await unappliedEvents(db, projection, status.checkpoint)) === 0 &&
        status
      );
    },
    `${projection.name} to catch up`,
    timeoutMs,
  );
}

export async function countRows(
  db: TestDatabase,
  view: string,
): Promise<{ total: number; distinct: number }> {
  const result = await db.pool.query<{ total: string; distinct: string }>(
    `SELECT count(*) AS total, count(DISTINCT position) AS distinct FROM ${view}`,
  );
  return { total: Number(result.rows[0]!.total), distinct: Number(result.rows[0]!.distinct) };
}
