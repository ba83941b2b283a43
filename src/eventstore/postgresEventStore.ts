import type { Pool } from 'pg';
import type { EventStore } from './eventStore';
import { appendToStream } from './schema/appendToStream';
import { EVENT_COLUMNS, toRecordedEvent, type EventRow } from './schema/eventRow';
import { readAllRows } from './schema/readAll';
import { readReaderHoldback } from './schema/readerHoldback';
import { readStreamRows } from './schema/readStream';
import { readSnapshot, writeSnapshot } from './schema/snapshots';
import type {
  AppendOptions,
  AppendResult,
  NewEvent,
  ReadAllOptions,
  ReadAllResult,
  ReaderHoldback,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
} from './types';
import { UpcasterRegistry } from './upcasting';

export interface EventStoreHooks {
  /** Called after every successful append (metrics). */
  onAppend?: (streamType: string, eventCount: number, seconds: number, duplicate: boolean) => void;
}

export class PostgresEventStore implements EventStore {
  constructor(
    private readonly pool: Pool,
    readonly upcasters: UpcasterRegistry = new UpcasterRegistry(),
    private readonly hooks: EventStoreHooks = {},
  ) {}

  async append(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const started = process.hrtime.bigint();
    const result = await appendToStream(this.pool, streamId, events, options);
    this.hooks.onAppend?.(
      options.streamType ?? streamId.split('-')[0] ?? streamId,
      result.duplicate ? 0 : events.length,
      Number(process.hrtime.bigint() - started) / 1e9,
      result.duplicate,
    );
    return result;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const rows = await readStreamRows(this.pool, streamId, options);
    return rows.map((row) => (options.raw ? toRecordedEvent(row) : this.upcast(row)));
  }

  async readEventsById(streamId: string, eventIds: readonly string[]): Promise<RecordedEvent[]> {
    const result = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND event_id = ANY($2::uuid[]) ORDER BY version`,
      [streamId, eventIds],
    );
    return result.rows.map((row) => this.upcast(row));
  }

  async streamVersion(streamId: string): Promise<number> {
    const result = await this.pool.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM events WHERE stream_id = $1',
      [streamId],
    );
    return result.rows[0]?.version ?? 0;
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    const { rows, scannedTo } = await readAllRows(
      this.pool,
      options.after,
      options.limit,
      options.eventTypes,
    );
    return { events: rows.map((row) => this.upcast(row)), lastPosition: scannedTo };
  }

  readSnapshot(streamId: string): Promise<Snapshot | undefined> {
    return readSnapshot(this.pool, streamId);
  }

  writeSnapshot(snapshot: Snapshot): Promise<void> {
    return writeSnapshot(this.pool, snapshot);
  }

  readerHoldback(): Promise<ReaderHoldback> {
    return readReaderHoldback(this.pool);
  }

  async headPosition(): Promise<bigint> {
    const result = await this.pool.query<{ head: string | null }>(
      'SELECT max(global_position) AS head FROM events',
    );
    return BigInt(result.rows[0]?.head ?? '0');
  }

  private upcast(row: EventRow): RecordedEvent {
    const event = toRecordedEvent(row);
    const { schemaVersion, data } = this.upcasters.upcast(
      event.type,
      event.schemaVersion,
      event.data,
    );
    return { ...event, schemaVersion, data };
  }
}
