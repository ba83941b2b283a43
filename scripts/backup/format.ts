/**
 * The Sagaflow backup format: one gzip stream of text lines.
 *
 *   #{"format":"sagaflow-backup","formatVersion":1,...}      header
 *   #{"section":"events","columns":["global_position",...]}  a table starts
 *   {"global_position":1,"stream_id":"account-a",...}         one row per line (row_to_json)
 *   #{"end":"events","rows":123}                              the table ends
 *   #{"complete":true,"rows":{"events":123,...}}              trailer: a file without it is truncated
 *
 * Control lines start with '#', which no JSON object does, so rows are passed to Postgres
 * as they are, never parsed in JS: bigints, timestamps (µs) and bytea ('\x…') survive exactly.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

export const FORMAT = 'sagaflow-backup';
export const FORMAT_VERSION = 1;

/**
 * What cannot be rebuilt, in restore order. Read models and projection checkpoints are
 * not here: they are derived from `events` and rebuilt after a restore.
 * - events: the log itself (the source of truth).
 * - snapshots: a cache, but cheap to keep and valid after restore (stream versions are kept).
 * - data_subject_keys: crypto-shredding keys. Without them personal data is lost; erased
 *   subjects (key NULL) stay erased.
 *   Every key generation is kept (migration 800): an erased generation (key NULL) stays
 *   erased, a later generation (a returning subject's new data) stays readable.
 * - api_idempotency_keys: answers to retried HTTP requests (so a retry after a restore
 *   does not run twice). `idempotency_keys` is accepted too, should it be renamed.
 * - projection_dead_letters: events an operator skipped for a projection. The restore's
 *   rebuild replays the log from 0 and skips them again (instead of getting stuck on the
 *   same poison events); the ids (GENERATED ALWAYS) are kept and their sequence moved on.
 * - archived_streams, events_archive: the archive (src/archiving/). A backup takes both
 *   parts, the hot part alone (`--hot-only`: everything but events_archive, so appends to
 *   archived streams stay refused) or the archive alone (`--archive-only`: these two), which
 *   a restore adds to a database restored from a hot-only backup (see restore.ts).
 * Not here: fault_injections (test/chaos switches, not data) and pgmigrations (the restore
 * runs the migrations itself).
 */
export const BACKUP_TABLES = [
  'events',
  'archived_streams',
  'events_archive',
  'snapshots',
  'data_subject_keys',
  'api_idempotency_keys',
  'idempotency_keys',
  'projection_dead_letters',
] as const;

export interface BackupHeader {
  format: typeof FORMAT;
  formatVersion: number;
  createdAt: string;
  /** Migrations applied in the source database (a restore needs code that knows them all). */
  migrations: string[];
  tables: string[];
  /** Which part of the store (absent in files from before archiving: `all`). */
  parts?: BackupParts;
}

/** `all`: hot and archived events; `hot`: without events_archive; `archive`: the archive alone. */
export type BackupParts = 'all' | 'hot' | 'archive';

/** The tables of the archive part. */
export const ARCHIVE_TABLES: ReadonlySet<string> = new Set(['archived_streams', 'events_archive']);

/** Whether a backup of these parts takes this table. */
export function partTakes(parts: BackupParts, table: string): boolean {
  if (parts === 'archive') return ARCHIVE_TABLES.has(table);
  return parts === 'all' || table !== 'events_archive';
}

/** Tables whose rows are events (their transaction ids are replaced on restore). */
export const EVENT_TABLES: ReadonlySet<string> = new Set(['events', 'events_archive']);

export interface SectionStart {
  section: string;
  columns: string[];
}

export interface SectionEnd {
  end: string;
  rows: number;
}

export interface Trailer {
  complete: true;
  rows: Record<string, number>;
  maxGlobalPosition: string | null;
}

/** Double-quotes an identifier for SQL (names come from the catalog, but never trust text). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The lines of a gzip'd backup file, decompressed as they are read. */
export async function* readBackupLines(file: string): AsyncGenerator<string> {
  const source = createReadStream(file);
  const input = createGunzip();
  source.on('error', (error) => input.destroy(error));
  source.pipe(input);
  // Decodes across chunk boundaries, so a multi-byte character split in two survives.
  input.setEncoding('utf8');
  let rest = '';
  for await (const chunk of input as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      yield text.slice(start, newline);
      start = newline + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) yield rest;
}
