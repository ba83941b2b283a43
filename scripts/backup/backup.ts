/**
 * `npm run backup -- <file>`: streams what cannot be rebuilt (see BACKUP_TABLES) from
 * DATABASE_URL into a gzip'd backup file (format.ts). Read models are not backed up: a
 * restore rebuilds them from the events.
 *
 * Every table is read in ONE read-only REPEATABLE READ transaction, so the file is a
 * consistent cut: every event whose personal data is sealed has its key in the same file,
 * and no half-committed append is included (only committed rows are visible). A read-only
 * transaction gets no transaction id, so it never holds catch-up readers back (readAll.ts).
 * The file is written as `<file>.partial` and renamed only when complete.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createGzip } from 'node:zlib';
import { Client } from 'pg';
import {
  BACKUP_TABLES,
  FORMAT,
  FORMAT_VERSION,
  partTakes,
  quoteIdent,
  type BackupHeader,
  type BackupParts,
  type SectionEnd,
  type SectionStart,
  type Trailer,
} from './format';

export interface BackupOptions {
  /** Rows per FETCH (default 5000). */
  fetchSize?: number;
  /** Leave snapshots out (they are a cache). */
  skipSnapshots?: boolean;
  /** Which part of the store (default `all`; see format.ts). */
  parts?: BackupParts;
  log?: (message: string) => void;
}

export interface BackupResult {
  file: string;
  rows: Record<string, number>;
  bytes: number;
  seconds: number;
}

/** Rows of each table, in an order that makes restores (and diffs of two backups) stable. */
const ORDER_BY: Record<string, string> = {
  events: 'global_position',
  archived_streams: 'stream_id',
  events_archive: 'global_position',
  snapshots: 'stream_id',
  data_subject_keys: 'subject_id, generation',
  api_idempotency_keys: 'scope, key',
  idempotency_keys: '1',
  projection_dead_letters: 'id',
};

export async function backupDatabase(
  databaseUrl: string,
  file: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const fetchSize = options.fetchSize ?? 5000;
  const partial = `${file}.partial`;
  const client = new Client({ connectionString: databaseUrl, application_name: 'sagaflow-backup' });
  await client.connect();
  const gzip = createGzip({ level: 6 });
  const output = createWriteStream(partial);
  gzip.pipe(output);
  let failed: Error | undefined;
  gzip.on('error', (error: Error) => (failed ??= error));
  output.on('error', (error: Error) => (failed ??= error));
  const write = async (text: string) => {
    if (failed) throw failed;
    if (!gzip.write(text)) await once(gzip, 'drain');
  };

  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const present = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name = ANY($1)`,
      [[...BACKUP_TABLES]],
    );
    const names = new Set(present.rows.map((row) => row.table_name));
    if (!names.has('events')) throw new Error('no events table: is this a Sagaflow database?');
    const parts = options.parts ?? 'all';
    const tables = BACKUP_TABLES.filter(
      (table) =>
        names.has(table) &&
        partTakes(parts, table) &&
        !(options.skipSnapshots && table === 'snapshots'),
    );
    const migrations = await client
      .query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')
      .then((result) => result.rows.map((row) => row.name));

    const header: BackupHeader = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      migrations,
      tables: [...tables],
      parts,
    };
    await write(`#${JSON.stringify(header)}\n`);

    const rows: Record<string, number> = {};
    for (const table of tables) {
      const columns = await client
        .query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
            ORDER BY ordinal_position`,
          [table],
        )
        .then((result) => result.rows.map((row) => row.column_name));
      const section: SectionStart = { section: table, columns };
      await write(`#${JSON.stringify(section)}\n`);
      // Postgres renders each row as JSON (one line: strings escape their newlines), so
      // values never pass through JS numbers or Dates. `table` and `columns` come from the
      // catalog (and are quoted), not from input.
      const select = columns.map(quoteIdent).join(', ');
      await client.query(
        `DECLARE backup_rows NO SCROLL CURSOR FOR
           SELECT row_to_json(t)::text AS line
             FROM (SELECT ${select} FROM ${quoteIdent(table)} ORDER BY ${ORDER_BY[table] ?? '1'}) t`,
      );
      let count = 0;
      for (;;) {
        const batch = await client.query<{ line: string }>(
          `FETCH FORWARD ${Number(fetchSize)} FROM backup_rows`,
        );
        if (batch.rows.length === 0) break;
        await write(batch.rows.map((row) => row.line).join('\n') + '\n');
        count += batch.rows.length;
        if (table === 'events' && count % 100_000 < fetchSize) log(`backup: ${count} events`);
      }
      await client.query('CLOSE backup_rows');
      rows[table] = count;
      const end: SectionEnd = { end: table, rows: count };
      await write(`#${JSON.stringify(end)}\n`);
    }
    const eventTables = tables.filter((table) => table === 'events' || table === 'events_archive');
    if (eventTables.length === 0)
      throw new Error(`no events in the ${parts} part of this database`);
    const max = await client.query<{ max: string | null }>(
      `SELECT greatest(${eventTables.map((table) => `(SELECT max(global_position) FROM ${table})`).join(', ')})::text AS max`,
    );
    const trailer: Trailer = { complete: true, rows, maxGlobalPosition: max.rows[0]?.max ?? null };
    await write(`#${JSON.stringify(trailer)}\n`);
    await client.query('COMMIT');

    gzip.end();
    await once(output, 'close');
    if (failed) throw failed;
    await rename(partial, file);
    const seconds = (performance.now() - started) / 1000;
    log(`backup: ${JSON.stringify(rows)} written to ${file} in ${seconds.toFixed(1)} s`);
    return { file, rows, bytes: output.bytesWritten, seconds };
  } catch (error) {
    gzip.destroy();
    output.destroy();
    await rm(partial, { force: true });
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const url = process.env.DATABASE_URL;
  if (!file || !url) {
    console.error(
      'usage: DATABASE_URL=postgres://... npm run backup -- <file> [--skip-snapshots] [--hot-only | --archive-only]',
    );
    process.exit(2);
  }
  const result = await backupDatabase(url, file, {
    skipSnapshots: process.argv.includes('--skip-snapshots'),
    parts: process.argv.includes('--hot-only')
      ? 'hot'
      : process.argv.includes('--archive-only')
        ? 'archive'
        : 'all',
    log: (message) => console.error(message),
  });
  console.log(JSON.stringify(result));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
