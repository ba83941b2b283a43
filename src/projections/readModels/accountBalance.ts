import type { AccountEvent, AccountStatus } from '../../domain/account';
import { ACCOUNT_EVENT_TYPES } from '../../domain/account';
import type { SqlExecutor } from '../../eventstore';
import { keyedRowHandlers, type KeyedRowModel } from '../keyedRows';
import type { Projection } from '../types';

// The domain's spelling (ACCOUNT_STATUSES): what the account decider's state says, too.
const OPEN: AccountStatus = 'OPEN';
const FROZEN: AccountStatus = 'FROZEN';

interface AccountBalanceRow {
  account_id: string;
  owner_id: string;
  balance: number;
  status: AccountStatus;
  version: number;
  last_changed_at: Date;
  last_position: number;
}

/**
 * Every event of the stream bumps the version (the chain must not break); only some change
 * the figures. Unknown future types just bump the version. A stream must start with
 * AccountOpened.
 */
const accountBalanceRows: KeyedRowModel<AccountBalanceRow> = {
  columns: [
    ['account_id', 'text'],
    ['owner_id', 'text'],
    ['balance', 'bigint'],
    ['status', 'text'],
    ['version', 'integer'],
    ['last_changed_at', 'timestamptz'],
    ['last_position', 'bigint'],
  ],
  keyOf: (recorded) => (recorded.data as { accountId: string }).accountId,
  fold(row, recorded) {
    const event = recorded as unknown as AccountEvent;
    const stamp = {
      version: recorded.version,
      last_changed_at: recorded.createdAt,
      last_position: Number(recorded.globalPosition),
    };
    if (event.type === 'AccountOpened') {
      if (row) return undefined;
      const { accountId, ownerId } = event.data;
      return { account_id: accountId, owner_id: ownerId, balance: 0, status: OPEN, ...stamp };
    }
    if (!row) return undefined;
    switch (event.type) {
      case 'FundsDeposited':
      case 'AccountDebited':
      case 'AccountCredited':
        return { ...row, balance: event.data.balanceAfter, ...stamp };
      case 'AccountFrozen':
        return { ...row, status: FROZEN, ...stamp };
      default:
        return { ...row, ...stamp };
    }
  },
};

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

  ...keyedRowHandlers(accountBalanceRows),
};
