/** What callers append. The store assigns version, position, transaction id and time. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  /** Deterministic ids make retried appends idempotent (see eventIds.ts). */
  eventId: string;
  type: Type;
  data: Data;
  schemaVersion?: number;
  metadata?: EventMetadata;
}

export interface EventMetadata {
  correlation_id?: string;
  causation_id?: string;
  [key: string]: unknown;
}

/** An event as read back from the store, already upcast to its current schema. */
export interface RecordedEvent<Type extends string = string, Data = unknown> {
  globalPosition: bigint;
  streamId: string;
  streamType: string;
  version: number;
  eventId: string;
  type: Type;
  schemaVersion: number;
  data: Data;
  metadata: EventMetadata;
  transactionId: bigint;
  createdAt: Date;
}

export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  /** Defaults to the part of the stream id before the first '-'. */
  streamType?: string;
  /** Merged into every event's metadata (event metadata wins). */
  metadata?: EventMetadata;
}

export interface AppendResult {
  /** The stream's version after the append. */
  nextExpectedVersion: number;
  firstPosition: bigint;
  lastPosition: bigint;
  /** True when every event id was already in the stream: nothing was written. */
  duplicate: boolean;
}

export interface ReadStreamOptions {
  /** Inclusive, 1-based. */
  fromVersion?: number;
  /** Inclusive. */
  toVersion?: number;
  /** Time travel: only events recorded at or before this instant. */
  at?: Date;
  /** Skip upcasting (e.g. for audit tooling). */
  raw?: boolean;
  /**
   * Leave personal fields sealed (no key lookup). Deciders never decide on personal data,
   * so command handling loads aggregates this way; it also keeps plaintext out of snapshots.
   */
  sealedPersonalData?: boolean;
}

export interface ReadAllOptions {
  /** Global position of the last event already seen; 0n for the start. */
  after: bigint;
  limit: number;
  /** Only these event types (others are skipped but the position still advances). */
  eventTypes?: readonly string[];
  /**
   * `skip`: read the hot table only, leaving out the events of archived streams (a read
   * model of live data only: much less to read). Default `include`: the whole log.
   */
  archivedStreams?: 'include' | 'skip';
  /** Only the streams of this segment (others are skipped likewise); see readAll.ts. */
  segment?: { index: number; count: number };
}

/** A stream moved to the archive (src/archiving/): it still loads, but takes no appends. */
export interface ArchivedStream {
  streamId: string;
  streamType: string;
  lastVersion: number;
  lastPosition: bigint;
  archivedAt: Date;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** Global position to pass as `after` next time. Equals `after` when nothing new is safe. */
  lastPosition: bigint;
}

export interface Snapshot<State = unknown> {
  streamId: string;
  streamType: string;
  version: number;
  stateSchemaVersion: number;
  state: State;
}

/**
 * How far catch-up readers are held back by in-flight transactions: events committed
 * above the oldest running transaction are not handed out until it ends.
 */
export interface ReaderHoldback {
  /** Committed events readers cannot see yet. */
  heldBackEvents: number;
  /** Age of the oldest transaction that holds readers back, 0 when none (or not visible). */
  oldestTransactionAgeSeconds: number;
  /** The oldest running transaction of the server (the readers' horizon), null when none. */
  holder: ReaderHolder | null;
}

/** The transaction catch-up readers wait for (see readerHoldback.ts). */
export interface ReaderHolder {
  /** Its transaction id (32-bit xid, as pg_stat_activity.backend_xid shows it). */
  xid: string;
  /** How many transactions the server started since (age(xid)). */
  xidAge: number;
  /** Backend pid (pg_terminate_backend(pid) ends it); null for a prepared transaction. */
  pid: number | null;
  /** The database it runs in: any database of the server holds readers back. */
  database: string | null;
  applicationName: string | null;
  /** active, idle in transaction, ... or prepared; null when the role may not see it. */
  state: string | null;
  /** Since its transaction started; null when the role may not see it. */
  ageSeconds: number | null;
  /** The gid of a prepared transaction (COMMIT/ROLLBACK PREPARED ends it), else null. */
  preparedTransaction: string | null;
}
