import type { Pool } from 'pg';

const EVENTS_PER_ACCOUNT = 10;

/**
 * Seeds valid account streams in one bulk INSERT: AccountOpened, then deposits with a
 * running balanceAfter (a plain INSERT into events is what append_to_stream does too).
 */
export async function seedAccounts(pool: Pool, events: number): Promise<void> {
  const accounts = Math.ceil(events / EVENTS_PER_ACCOUNT);
  await pool.query(
    `INSERT INTO events (stream_id, stream_type, version, event_id, event_type, data)
     SELECT 'account-acc' || a, 'account', v, gen_random_uuid(),
            CASE WHEN v = 1 THEN 'AccountOpened' ELSE 'FundsDeposited' END,
            CASE WHEN v = 1
                 THEN jsonb_build_object('accountId', 'acc' || a, 'ownerId', 'owner' || a,
                                         'openedAt', '2024-01-01T00:00:00.000Z')
                 ELSE jsonb_build_object('accountId', 'acc' || a, 'amount', 100,
                                         'reference', 'dep-' || v, 'balanceAfter', 100 * (v - 1))
            END
       FROM generate_series(1, $1::int) AS a, generate_series(1, $2::int) AS v
      ORDER BY a, v`,
    [accounts, EVENTS_PER_ACCOUNT],
  );
  await pool.query('ANALYZE events');
}
