import type { ClientBase } from 'pg';
import type { AccountEvent, AccountStatus } from '../../domain/account';
import { ACCOUNT_EVENT_TYPES } from '../../domain/account';
import type { RecordedEvent, SqlExecutor } from '../../eventstore';
import type { Projection } from '../types';

// The domain's spelling (ACCOUNT_STATUSES): what the account decider's state says, too.
const OPEN: AccountStatus = 'OPEN';
const FROZEN: AccountStatus = 'FROZEN';

/** Balance and status per account (stream `account-<id>`). */
export const accountBalanceProjection: Projection = {
  name: 'account_balance',
  version: 1,
  eventTypes: ACCOUNT_EVENT_TYPES,
  streamRows: { column: 'account_id', streamPrefix: 'account-' },

  async createTables(db: SqlExecutor, table: string) {
    await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
      account_id      text        PRIMARY KEY,
      owner_id        text        NOT NULL,
      balance         bigint      NOT NULL,
      status          text        NOT NULL,
      version         integer     NOT NULL,
      last_changed_at timestamptz NOT NULL,
      last_position   bigint      NOT NULL
    )`);
  },

  async handle(db: ClientBase, recorded: RecordedEvent, table: string) {
    const event = recorded as unknown as AccountEvent;
    const position = recorded.globalPosition.toString();
    if (event.type === 'AccountOpened') {
      if (recorded.version !== 1) return;
      await db.query(
        `INSERT INTO ${table} (account_id, owner_id, balance, status, version, last_changed_at, last_position)
         VALUES ($1, $2, 0, $3, 1, $4, $5) ON CONFLICT (account_id) DO NOTHING`,
        [event.data.accountId, event.data.ownerId, OPEN, recorded.createdAt, position],
      );
      return;
    }
    if (recorded.version === 1) return; // a stream must start with AccountOpened
    // Every event of the stream bumps the version (the chain must not break); only some
    // change the figures. Unknown future types just bump the version.
    let balance: number | null = null;
    let status: AccountStatus | null = null;
    switch (event.type) {
      case 'FundsDeposited':
      case 'AccountDebited':
      case 'AccountCredited':
        balance = event.data.balanceAfter;
        break;
      case 'AccountFrozen':
        status = FROZEN;
        break;
      default:
        break;
    }
    await db.query(
      `UPDATE ${table}
          SET balance = coalesce($3, balance), status = coalesce($4, status),
              version = $2, last_changed_at = $5, last_position = $6
        WHERE account_id = $1 AND version = $2 - 1`,
      [event.data.accountId, recorded.version, balance, status, recorded.createdAt, position],
    );
  },
};
