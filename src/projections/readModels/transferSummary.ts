import type { ClientBase } from 'pg';
import type { TransferEvent, TransferStatus } from '../../domain/transfer';
import { TRANSFER_EVENT_TYPES } from '../../domain/transfer';
import type { RecordedEvent, SqlExecutor } from '../../eventstore';
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

  async handle(db: ClientBase, recorded: RecordedEvent, table: string) {
    const event = recorded as unknown as TransferEvent;
    const position = recorded.globalPosition.toString();
    if (event.type === 'TransferRequested') {
      if (recorded.version !== 1) return;
      const { transferId, fromAccountId, toAccountId, amount } = event.data;
      await db.query(
        `INSERT INTO ${table} (transfer_id, from_account_id, to_account_id, amount, status, reason, updated_at, version, last_position)
         VALUES ($1, $2, $3, $4, 'REQUESTED', NULL, $5, 1, $6) ON CONFLICT (transfer_id) DO NOTHING`,
        [transferId, fromAccountId, toAccountId, amount, recorded.createdAt, position],
      );
      return;
    }
    if (recorded.version === 1) return;
    const reason = 'reason' in event.data ? event.data.reason : null;
    await db.query(
      `UPDATE ${table}
          SET status = coalesce($3, status), reason = coalesce($4, reason),
              version = $2, updated_at = $5, last_position = $6
        WHERE transfer_id = $1 AND version = $2 - 1`,
      [
        event.data.transferId,
        recorded.version,
        TRANSFER_STATUS[event.type] ?? null,
        reason,
        recorded.createdAt,
        position,
      ],
    );
  },
};
