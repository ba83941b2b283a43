import type { Pool } from 'pg';
import type { EventStore } from './eventStore';
import { appendToStream, streamTypeOf } from './schema/appendToStream';
import { EVENT_COLUMNS, toRecordedEvent, type EventRow } from './schema/eventRow';
import { readAllRows, readCatchUpHead } from './schema/readAll';
import { readReaderHoldback } from './schema/readerHoldback';
import { readStreamRows } from './schema/readStream';
import { readSnapshot, writeSnapshot } from './schema/snapshots';
import { readSnapshotAndTailRows } from './schema/readSnapshotAndTail';
import type {
  AppendOptions,
  ArchivedStream,
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
import { FutureEventSchemaVersionError, type EventSchemaRegistry } from './eventSchemas';
import { CryptoShredder } from './personalData/cryptoShredder';
import { DEFAULT_PERSONAL_DATA_POLICY, type PersonalDataPolicy } from './personalData/policy';

export interface EventStoreOptions {
  /** Personal fields to crypto-shred; `false` turns protection off (benchmarks, tooling). */
  personalData?: PersonalDataPolicy | false;
  /**
   * The event types this store accepts (see createEventStore): appends are stamped with
   * their type's current schema version and checked against its schema; undeclared types
   * are refused. Without it (generic tooling, store tests) any type is written at the
   * version its upcasters reach, unchecked.
   */
  schemas?: EventSchemaRegistry;
}

export interface EventStoreHooks {
  /** Called after every successful append (metrics). */
  onAppend?: (streamType: string, eventCount: number, seconds: number, duplicate: boolean) => void;
}

export class PostgresEventStore implements EventStore {
  /** Seals personal data on append, opens it on read, erases it by destroying keys. */
  readonly personalData: CryptoShredder | undefined;
  readonly schemas: EventSchemaRegistry | undefined;

  constructor(
    private readonly pool: Pool,
    readonly upcasters: UpcasterRegistry = new UpcasterRegistry(),
    private readonly hooks: EventStoreHooks = {},
    options: EventStoreOptions = {},
  ) {
    const policy = options.personalData ?? DEFAULT_PERSONAL_DATA_POLICY;
    this.personalData = policy ? new CryptoShredder(pool, policy) : undefined;
    this.schemas = options.schemas;
  }

  /**
   * Each event with the schema version it is stored at. Checked before sealing: personal
   * fields are then plaintext, or already sealed by a command handler (schemas allow that).
   */
  private versioned(events: readonly NewEvent[]): NewEvent[] {
    const schemas = this.schemas;
    return events.map((event) => ({
      ...event,
      schemaVersion: schemas
        ? schemas.check(event.type, event.data, event.schemaVersion)
        : (event.schemaVersion ?? this.upcasters.currentVersion(event.type)),
    }));
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const started = process.hrtime.bigint();
    const versioned = this.versioned(events);
    const sealed = this.personalData ? await this.personalData.protect(versioned) : versioned;
    const result = await appendToStream(this.pool, streamId, sealed, options);
    this.hooks.onAppend?.(
      options.streamType ?? streamTypeOf(streamId),
      result.duplicate ? 0 : events.length,
      Number(process.hrtime.bigint() - started) / 1e9,
      result.duplicate,
    );
    return result;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const rows = await readStreamRows(this.pool, streamId, options);
    return options.raw
      ? rows.map(toRecordedEvent)
      : this.materialize(rows, !options.sealedPersonalData);
  }

  async readEventsById(streamId: string, eventIds: readonly string[]): Promise<RecordedEvent[]> {
    const result = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM all_events WHERE stream_id = $1 AND event_id = ANY($2::uuid[]) ORDER BY version`,
      [streamId, eventIds],
    );
    return this.materialize(result.rows);
  }

  async streamVersion(streamId: string): Promise<number> {
    const result = await this.pool.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM all_events WHERE stream_id = $1',
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
      options.archivedStreams === 'skip' ? 'events' : 'all_events',
      options.segment,
    );
    return { events: await this.materialize(rows), lastPosition: scannedTo };
  }

  async readSnapshotAndTail(
    streamId: string,
    stateSchemaVersion: number,
    options: Pick<ReadStreamOptions, 'sealedPersonalData'> = {},
  ): Promise<{ snapshot: Snapshot | undefined; tail: RecordedEvent[] }> {
    const { snapshot, tail } = await readSnapshotAndTailRows(
      this.pool,
      streamId,
      stateSchemaVersion,
    );
    return { snapshot, tail: await this.materialize(tail, !options.sealedPersonalData) };
  }

  readSnapshot(streamId: string): Promise<Snapshot | undefined> {
    return readSnapshot(this.pool, streamId);
  }

  writeSnapshot(snapshot: Snapshot): Promise<void> {
    return writeSnapshot(this.pool, snapshot);
  }

  async erasePersonalData(subjectId: string): Promise<boolean> {
    return (await this.personalData?.erase(subjectId)) ?? false;
  }

  readerHoldback(): Promise<ReaderHoldback> {
    return readReaderHoldback(this.pool);
  }

  catchUpHead(): Promise<bigint> {
    return readCatchUpHead(this.pool);
  }

  async headPosition(): Promise<bigint> {
    const result = await this.pool.query<{ head: string | null }>(
      `SELECT greatest((SELECT max(global_position) FROM events),
                       (SELECT max(global_position) FROM events_archive)) AS head`,
    );
    return BigInt(result.rows[0]?.head ?? '0');
  }

  async archivedStream(streamId: string): Promise<ArchivedStream | undefined> {
    const result = await this.pool.query<{
      stream_type: string;
      last_version: number;
      last_position: string;
      archived_at: Date;
    }>(
      'SELECT stream_type, last_version, last_position, archived_at FROM archived_streams WHERE stream_id = $1',
      [streamId],
    );
    const row = result.rows[0];
    return row
      ? {
          streamId,
          streamType: row.stream_type,
          lastVersion: row.last_version,
          lastPosition: BigInt(row.last_position),
          archivedAt: row.archived_at,
        }
      : undefined;
  }

  /** Rows as domain code sees them: personal data opened (or erased), then upcast. */
  private async materialize(rows: EventRow[], reveal = true): Promise<RecordedEvent[]> {
    const recorded = rows.map(toRecordedEvent);
    const revealed =
      this.personalData && reveal ? await this.personalData.reveal(recorded) : recorded;
    return revealed.map((event) => {
      const known =
        this.schemas?.currentVersion(event.type) ?? this.upcasters.currentVersion(event.type);
      if (event.schemaVersion > known) {
        throw new FutureEventSchemaVersionError(
          event.type,
          event.schemaVersion,
          known,
          event.streamId,
          event.globalPosition,
          event.version,
        );
      }
      const { schemaVersion, data } = this.upcasters.upcast(
        event.type,
        event.schemaVersion,
        event.data,
      );
      // An old shape must never pass for the current one (a store built without its upcasters).
      if (schemaVersion !== known) {
        throw new Error(
          `Event ${event.type} at ${event.streamId} version ${event.version}: no upcaster from schema version ${schemaVersion} (current ${known})`,
        );
      }
      return { ...event, schemaVersion, data };
    });
  }
}
