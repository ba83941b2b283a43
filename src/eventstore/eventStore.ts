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

/** What domain code, activities and projections see. Only the Postgres implementation imports pg. */
export interface EventStore {
  append(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events of one stream with these ids (to recognise a command that already ran). */
  readEventsById(streamId: string, eventIds: readonly string[]): Promise<RecordedEvent[]>;
  /** The stream's current version, 0 when it does not exist. */
  streamVersion(streamId: string): Promise<number>;
  readAll(options: ReadAllOptions): Promise<ReadAllResult>;
  /** Position of the last event readAll can hand out now (0: none); moves when it has more. */
  catchUpHead(): Promise<bigint>;
  readSnapshot(streamId: string): Promise<Snapshot | undefined>;
  /**
   * The newest snapshot with this state schema version (a stale one is ignored) and the
   * events after it (all of them without a snapshot), in one round trip.
   */
  readSnapshotAndTail(
    streamId: string,
    stateSchemaVersion: number,
    options?: Pick<ReadStreamOptions, 'sealedPersonalData'>,
  ): Promise<{ snapshot: Snapshot | undefined; tail: RecordedEvent[] }>;
  writeSnapshot(snapshot: Snapshot): Promise<void>;
  readerHoldback(): Promise<ReaderHoldback>;
  /**
   * Crypto-shredding: destroys a data subject's key (e.g. `customer-c-9`), so its personal
   * fields read as "[erased]" from then on. Returns whether a key existed.
   */
  erasePersonalData(subjectId: string): Promise<boolean>;
  /** Position of the newest event readers may see (the head for lag figures). */
  headPosition(): Promise<bigint>;
  /** The stream's archive record, undefined while it is live (or does not exist). */
  archivedStream(streamId: string): Promise<ArchivedStream | undefined>;
}
