import type { TransferEvent, TransferStatus } from '../../domain/transfer';
import { TRANSFER_EVENT_TYPES } from '../../domain/transfer';
import type { SqlExecutor } from '../../eventstore';
import { keyedRowHandlers, type KeyedRowModel } from '../keyedRows';
import type { Projection } from '../types';

/** Status changes per event type; TransferCredited keeps DEBITED until TransferCompleted. */
const TRANSFER_STATUS: Record<TransferEvent['type'], TransferStatus | null> = {
  TransferRequested: 'REQUESTED',
  TransferDebited: 'DEBITED',
  TransferCredited: null,
  TransferCompleted: 'COMPLETED',
  TransferFailed: 'FAILED',
  TransferCompensated: 'COMPENSATED',
  TransferCompensationFailed: 'COMPENSATION_FAILED',
};

interface TransferSummaryRow {
  transfer_id: string;
  from_account_id: string;
  to_account_id: string;
  amount: number;
  status: TransferStatus;
  reason: string | null;
  updated_at: Date;
  version: number;
  last_position: number;
}

const transferSummaryRows: KeyedRowModel<TransferSummaryRow> = {
  columns: [
    ['transfer_id', 'text'],
    ['from_account_id', 'text'],
    ['to_account_id', 'text'],
    ['amount', 'bigint'],
    ['status', 'text'],
    ['reason', 'text'],
    ['updated_at', 'timestamptz'],
    ['version', 'integer'],
    ['last_position', 'bigint'],
  ],
  keyOf: (recorded) => (recorded.data as { transferId: string }).transferId,
  fold(row, recorded) {
    const event = recorded as unknown as TransferEvent;
    const stamp = {
      version: recorded.version,
      updated_at: recorded.createdAt,
      last_position: Number(recorded.globalPosition),
    };
    if (event.type === 'TransferRequested') {
      if (row) return undefined;
      const { transferId, fromAccountId, toAccountId, amount } = event.data;
      return {
        transfer_id: transferId,
        from_account_id: fromAccountId,
        to_account_id: toAccountId,
        amount,
        status: 'REQUESTED',
        reason: null,
        ...stamp,
      };
    }
    if (!row) return undefined;
    const reason = 'reason' in event.data ? event.data.reason : null;
    return {
      ...row,
      status: TRANSFER_STATUS[event.type] ?? row.status,
      reason: reason ?? row.reason,
      ...stamp,
    };
  },
};

/** One row per money transfer (stream `transfer-<id>`). */
export const transferSummaryProjection: Projection = {
  name: 'transfer_summary',
  version: 1,
  eventTypes: TRANSFER_EVENT_TYPES,
  streamRows: { column: 'transfer_id', streamPrefix: 'transfer-' },

  async createTables(db: SqlExecutor, table: string) {
    await db.query(`CREATE TABLE IF NOT EXISTS ${table} (
      transfer_id     text        PRIMARY KEY,
      from_account_id text        NOT NULL,
      to_account_id   text        NOT NULL,
      amount          bigint      NOT NULL,
      status          text        NOT NULL,
      reason          text,
      updated_at      timestamptz NOT NULL,
      version         integer     NOT NULL,
      last_position   bigint      NOT NULL
    )`);
  },

  ...keyedRowHandlers(transferSummaryRows),
};
