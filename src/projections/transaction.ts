import type { ClientBase } from 'pg';

/** Runs `work` in a transaction on `conn`: COMMIT when it returns, ROLLBACK when it throws. */
export async function inTransaction<T>(conn: ClientBase, work: () => Promise<T>): Promise<T> {
  await conn.query('BEGIN');
  try {
    const result = await work();
    await conn.query('COMMIT');
    return result;
  } catch (error) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
