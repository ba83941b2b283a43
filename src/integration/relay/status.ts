import type { SqlExecutor } from '../../eventstore';
import { catchUpPointOf } from '../../eventstore/schema/readAll';
import { advisoryLockHolder } from '../../projections/checkpoints';
import { TRANSLATED_EVENT_TYPES } from '../translation';
import { DEFAULT_RELAY, readRelayCheckpoint, relayOwnerLockKey } from './checkpoint';

/** running: a relay owns it and publishes; failing: its last step failed and it retries; idle: no relay runs. */
export type RelayState = 'running' | 'failing' | 'idle';

export interface RelayStatus {
  name: string;
  state: RelayState;
  /** Global position published up to (decimal string). */
  checkpoint: string;
  /** Domain events the relay reads, committed after the checkpoint and not published yet. */
  lagEvents: number;
  /** Of lagEvents, those held back by an open transaction (see readerHoldback.ts). */
  heldBackEvents: number;
  /** Age of the oldest event not published yet, 0 when caught up. */
  lagSeconds: number;
  messagesPerSecond: number;
  /** Monotonic counters: messages acknowledged, of which duplicates; failed steps. */
  publishedTotal: number;
  duplicatesTotal: number;
  publishFailuresTotal: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastPublishedAt: string | null;
  /** Backend pid of the owner's connection (null: no relay owns it). */
  ownerPid: number | null;
}

const RATE_STALE_MS = 15_000;

export async function getRelayStatus(db: SqlExecutor, name = DEFAULT_RELAY): Promise<RelayStatus> {
  const checkpoint = await readRelayCheckpoint(db, name);
  const point = await catchUpPointOf(db, checkpoint.position);
  // The same count as a projection's lag (projections/status.ts), over the relay's types.
  const lag = await db.query<{ events: string; held_back: string; oldest_age: number | null }>(
    `SELECT count(*) AS events,
            count(*) FILTER (WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot()))
              AS held_back,
            extract(epoch FROM (clock_timestamp() - min(created_at)))::float8 AS oldest_age
       FROM events
      WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
        AND global_position > $3::bigint
        AND event_type = ANY($4)`,
    [point.transactionId, point.position, point.floor, TRANSLATED_EVENT_TYPES],
  );
  const ownerPid = await advisoryLockHolder(db, relayOwnerLockKey(name));
  const failing = checkpoint.lastError !== null;
  const state: RelayState = ownerPid === null ? 'idle' : failing ? 'failing' : 'running';
  const fresh = Date.now() - checkpoint.updatedAt.getTime() < RATE_STALE_MS;
  return {
    name,
    state,
    checkpoint: checkpoint.position.toString(),
    lagEvents: Number(lag.rows[0]?.events ?? 0),
    heldBackEvents: Number(lag.rows[0]?.held_back ?? 0),
    lagSeconds: Math.max(0, lag.rows[0]?.oldest_age ?? 0),
    messagesPerSecond: fresh && state === 'running' ? checkpoint.messagesPerSecond : 0,
    publishedTotal: Number(checkpoint.publishedTotal),
    duplicatesTotal: Number(checkpoint.duplicatesTotal),
    publishFailuresTotal: Number(checkpoint.publishFailuresTotal),
    lastError: checkpoint.lastError,
    lastErrorAt: checkpoint.lastErrorAt?.toISOString() ?? null,
    lastPublishedAt: checkpoint.lastPublishedAt?.toISOString() ?? null,
    ownerPid,
  };
}
