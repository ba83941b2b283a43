import type { RecordedEvent } from '../types';

/** The events table as pg returns it (bigint and xid8 arrive as strings). */
export interface EventRow {
  global_position: string;
  stream_id: string;
  stream_type: string;
  version: number;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: Record<string, unknown>;
  transaction_id: string;
  created_at: Date;
}

export const EVENT_COLUMNS =
  'global_position, stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata, transaction_id, created_at';

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    globalPosition: BigInt(row.global_position),
    streamId: row.stream_id,
    streamType: row.stream_type,
    version: row.version,
    eventId: row.event_id,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    transactionId: BigInt(row.transaction_id),
    createdAt: row.created_at,
  };
}
