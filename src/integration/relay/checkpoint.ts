import type { SqlExecutor } from '../../eventstore';

/** The relay's row in integration_relay_checkpoints (see its migration). */
export interface RelayCheckpoint {
  name: string;
  /** Global position published up to (in catch-up order). */
  position: bigint;
  publishedTotal: bigint;
  duplicatesTotal: bigint;
  publishFailuresTotal: bigint;
  lastError: string | null;
  lastErrorAt: Date | null;
  lastPublishedAt: Date | null;
  messagesPerSecond: number;
  updatedAt: Date;
}

interface Row {
  name: string;
  position: string;
  published_total: string;
  duplicates_total: string;
  publish_failures_total: string;
  last_error: string | null;
  last_error_at: Date | null;
  last_published_at: Date | null;
  messages_per_second: number;
  updated_at: Date;
}

/** The relay of the default NATS target (one row per target; there is one today). */
export const DEFAULT_RELAY = 'nats';

/** Creates the row of a relay other than the default one (the migration makes `nats`). */
export async function ensureRelayCheckpoint(db: SqlExecutor, name: string): Promise<void> {
  await db.query(
    'INSERT INTO integration_relay_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING',
    [name],
  );
}

export async function readRelayCheckpoint(
  db: SqlExecutor,
  name = DEFAULT_RELAY,
): Promise<RelayCheckpoint> {
  const result = await db.query<Row>(
    'SELECT * FROM integration_relay_checkpoints WHERE name = $1',
    [name],
  );
  const row = result.rows[0];
  if (!row) throw new Error(`no integration relay checkpoint ${name}`);
  return {
    name: row.name,
    position: BigInt(row.position),
    publishedTotal: BigInt(row.published_total),
    duplicatesTotal: BigInt(row.duplicates_total),
    publishFailuresTotal: BigInt(row.publish_failures_total),
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    lastPublishedAt: row.last_published_at,
    messagesPerSecond: row.messages_per_second,
    updatedAt: row.updated_at,
  };
}

/**
 * Moves the checkpoint from `from` to `to` after every message up to `to` was acknowledged.
 * False when it no longer stood at `from` (another relay took over meanwhile): the caller
 * re-reads instead of moving it back.
 */
export async function advanceRelayCheckpoint(
  db: SqlExecutor,
  name: string,
  from: bigint,
  to: bigint,
  published: { acked: number; duplicates: number },
): Promise<boolean> {
  const result = await db.query(
    `UPDATE integration_relay_checkpoints
        SET position = $3, published_total = published_total + $4,
            duplicates_total = duplicates_total + $5,
            last_published_at = CASE WHEN $4 > 0 THEN now() ELSE last_published_at END,
            last_error = NULL, updated_at = now()
      WHERE name = $1 AND position = $2`,
    [name, from.toString(), to.toString(), published.acked, published.duplicates],
  );
  return result.rowCount === 1;
}

export async function recordPublishFailure(db: SqlExecutor, name: string, message: string) {
  await db.query(
    `UPDATE integration_relay_checkpoints
        SET publish_failures_total = publish_failures_total + 1, last_error = $2,
            last_error_at = now(), messages_per_second = 0, updated_at = now()
      WHERE name = $1`,
    [name, message],
  );
}

export async function recordRelayRate(db: SqlExecutor, name: string, perSecond: number) {
  await db.query(
    `UPDATE integration_relay_checkpoints SET messages_per_second = $2, updated_at = now()
      WHERE name = $1`,
    [name, perSecond],
  );
}

/** Advisory-lock key of the relay's owner (session level, on its dedicated connection). */
export const relayOwnerLockKey = (name: string): string => `sagaflow-integration-relay:${name}`;
