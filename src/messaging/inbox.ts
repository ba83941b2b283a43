import type { Pool, PoolClient } from 'pg';

/**
 * A consumer's inbox: one row per message id it applied, written in the same transaction as
 * the effect. A redelivery (a crash before the ack, an ack lost on the way) or a duplicate
 * publish finds its row and changes nothing. Every inbox table has the same columns:
 * `message_id text primary key, type text, received_at timestamptz`.
 */
export interface Inbox {
  /** Schema-qualified table name, e.g. `loyalty.inbox`. A constant: never user input. */
  table: string;
}

export type InboxOutcome = 'applied' | 'duplicate';

/**
 * Applies `effect` once per message id. A second delivery of a message that is still being
 * applied elsewhere waits on the first's row lock, then sees it as a duplicate.
 */
export async function applyOnce(
  pool: Pool,
  inbox: Inbox,
  message: { id: string; type: string },
  effect: (client: PoolClient) => Promise<void>,
): Promise<InboxOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const inserted = await client.query(
      `INSERT INTO ${inbox.table} (message_id, type) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING`,
      [message.id, message.type],
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return 'duplicate';
    }
    await effect(client);
    await client.query('COMMIT');
    return 'applied';
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
