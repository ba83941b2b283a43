/**
 * `npm run restore -- <file>`: restores a backup (backup.ts) into DATABASE_URL, which must
 * be EMPTY (a fresh database, or a migrated one with no data): a restore never merges.
 *
 * 1. Checks the target is empty and the backup's migrations are all known to this code.
 * 2. Runs the migrations.
 * 3. Loads every section in ONE transaction (a failed or truncated restore leaves nothing
 *    behind: events cannot be deleted afterwards), checks the row counts against the
 *    file's trailer, and moves every restored identity sequence (events.global_position,
 *    projection_dead_letters.id) past the highest restored value.
 * 4. Rebuilds every projection from scratch, so read models and checkpoints are valid; the
 *    restored dead letters make the rebuild skip the events operators skipped before.
 *
 * TRANSACTION IDS. Catch-up readers order events by (transaction_id, global_position) and
 * only hand out rows whose transaction_id is below pg_snapshot_xmin(pg_current_snapshot())
 * (src/eventstore/schema/readAll.ts). The source's transaction ids mean nothing in the
 * target cluster: kept as they are, a restored row could carry an xid far above the new
 * cluster's counter, so (a) it would stay invisible to readers until the counter got there
 * and (b) new appends (smaller xids) would sort BEFORE it, so a reader checkpointed on a
 * restored event would skip every new event. So every restored event gets transaction_id
 * '1'::xid8 (the bootstrap xid: below every real transaction, hence visible at once and
 * ordered before anything appended later). Among themselves restored events then order by
 * global_position, which keeps each stream's versions in order (appends to a stream are
 * serialized by its lock, so a later version always has a higher position). Appends after
 * the restore get real xids (> 1) and positions above the restored maximum (the identity
 * sequence is reset), so they sort after all restored history. A reader's checkpoint from
 * the SOURCE database may not be reused (cross-stream order can differ from the source's
 * (xid, position) order): projections are rebuilt from position 0, and external consumers
 * must re-read from 0 too.
 */
import { Client } from 'pg';
import { readdir } from 'node:fs/promises';
import { migrate } from '../../src/eventstore';
import { MIGRATIONS_DIR } from '../../src/eventstore/migrate';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createSystem } from '../../src/system/createSystem';
import { ALL_PROJECTIONS, rebuildProjection, type RebuildResult } from '../../src/projections';
import {
  BACKUP_TABLES,
  EVENT_TABLES,
  FORMAT,
  FORMAT_VERSION,
  quoteIdent,
  readBackupLines,
  type BackupHeader,
  type BackupParts,
  type SectionEnd,
  type SectionStart,
  type Trailer,
} from './format';

export interface RestoreOptions {
  /** Rows per INSERT (default 5000). */
  batchRows?: number;
  /** Skip the projection rebuild (then run `npm run projections` yourself). */
  skipRebuild?: boolean;
  log?: (message: string) => void;
}

export interface RestoreResult {
  rows: Record<string, number>;
  maxGlobalPosition: string | null;
  loadSeconds: number;
  rebuildSeconds: number;
  rebuilt: RebuildResult[];
}

export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

/**
 * Tables the migrations fill themselves; every other table must be empty. The relay's
 * checkpoint starts at 0 after a restore: it publishes the restored history again under the
 * same message ids, which JetStream's dedupe window and each consumer's inbox drop.
 */
const SEEDED_BY_MIGRATIONS = new Set([
  'pgmigrations',
  'projection_checkpoints',
  'integration_relay_checkpoints',
]);

/** Refuses unless every table of the target (any schema but the system ones) is empty. */
export async function assertEmptyDatabase(db: Client): Promise<void> {
  const tables = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1, 2`,
  );
  const nonEmpty: string[] = [];
  for (const { schema, name } of tables.rows) {
    if (SEEDED_BY_MIGRATIONS.has(name)) continue;
    const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    const any = await db.query(`SELECT 1 FROM ${qualified} LIMIT 1`);
    if (any.rowCount) nonEmpty.push(`${schema}.${name}`);
  }
  if (nonEmpty.length > 0) {
    throw new RestoreRefusedError(
      `refusing to restore into a database that holds data (${nonEmpty.join(', ')}): restore needs an empty database`,
    );
  }
}

/**
 * Where a backup may go: a full or hot-only one into an empty database; the archive part
 * (`--archive-only`) into one restored from a hot-only backup, whose archive is still empty.
 */
async function assertRestorable(db: Client, parts: BackupParts): Promise<void> {
  if (parts !== 'archive') return assertEmptyDatabase(db);
  const any = await db.query('SELECT 1 FROM events_archive LIMIT 1');
  if (any.rowCount) {
    throw new RestoreRefusedError(
      'refusing to restore the archive part: events_archive holds events',
    );
  }
}

interface Section {
  table: string;
  columns: string[];
  /** The INSERT for one batch; $1 is a JSON array of row objects. */
  insert: string;
}

/** Builds the batch INSERT of one section, typed by the TARGET table's columns. */
async function prepareSection(db: Client, start: SectionStart): Promise<Section> {
  const target = await db.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteIdent(start.section)],
  );
  if (target.rows.length === 0) {
    throw new RestoreRefusedError(`the backup has table ${start.section}, which this schema lacks`);
  }
  const types = new Map(target.rows.map((row) => [row.name, row.type]));
  const missing = start.columns.filter((column) => !types.has(column));
  if (missing.length > 0) {
    throw new RestoreRefusedError(
      `table ${start.section} lacks column(s) ${missing.join(', ')} of the backup: restore with the code that made it`,
    );
  }
  const isEvents = EVENT_TABLES.has(start.section);
  // Events: the source transaction id is dropped; see the comment at the top of the file.
  const columns = start.columns.filter((column) => !(isEvents && column === 'transaction_id'));
  const recordType = columns.map((c) => `${quoteIdent(c)} ${types.get(c)!}`).join(', ');
  const targetColumns = [...columns, ...(isEvents ? ['transaction_id'] : [])];
  const values = [...columns.map((c) => `r.${quoteIdent(c)}`), ...(isEvents ? ["'1'::xid8"] : [])];
  // OVERRIDING SYSTEM VALUE: events.global_position and projection_dead_letters.id are
  // GENERATED ALWAYS; positions and ids are kept (their sequences are moved on after the load).
  // archived_streams rows also come with the hot part: restoring the archive part after a
  // hot-only restore finds them there already.
  const onConflict = start.section === 'archived_streams' ? ' ON CONFLICT DO NOTHING' : '';
  const insert = `INSERT INTO ${quoteIdent(start.section)} (${targetColumns.map(quoteIdent).join(', ')})
    OVERRIDING SYSTEM VALUE
    SELECT ${values.join(', ')} FROM json_to_recordset($1::json) AS r(${recordType})${onConflict}`;
  return { table: start.section, columns, insert };
}

/** setval()s the sequence of every identity or serial column of `tables` to its maximum. */
async function moveSequencesPastRestoredRows(db: Client, tables: readonly string[]): Promise<void> {
  const owned = await db.query<{ table_name: string; column_name: string; sequence: string }>(
    `SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) AS sequence
       FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)
        AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL`,
    [[...new Set([...tables, ...(tables.includes('events_archive') ? ['events'] : [])])]],
  );
  for (const { table_name: table, column_name: column, sequence } of owned.rows) {
    // Archived events hold positions of the same sequence as hot ones.
    const archive =
      table === 'events' && column === 'global_position'
        ? ', (SELECT max(global_position) FROM events_archive)'
        : '';
    const max = await db.query<{ max: string | null }>(
      `SELECT greatest(max(${quoteIdent(column)})${archive})::text AS max FROM ${quoteIdent(table)}`,
    );
    if (max.rows[0]?.max) {
      await db.query('SELECT setval($1::regclass, $2::bigint, true)', [sequence, max.rows[0].max]);
    }
  }
}

async function migrationFiles(): Promise<Set<string>> {
  const files = await readdir(MIGRATIONS_DIR);
  return new Set(files.map((file) => file.replace(/\.[^.]+$/, '')));
}

const parseControl = <T>(line: string): T => JSON.parse(line.slice(1)) as T;

export async function restoreDatabase(
  databaseUrl: string,
  file: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const log = options.log ?? (() => {});
  const batchRows = options.batchRows ?? 5000;
  const lines = readBackupLines(file);

  const first = await lines.next();
  if (first.done || !first.value.startsWith('#'))
    throw new RestoreRefusedError(`${file} is not a Sagaflow backup`);
  const header = parseControl<BackupHeader>(first.value);
  if (header.format !== FORMAT || header.formatVersion > FORMAT_VERSION) {
    throw new RestoreRefusedError(
      `${file}: unsupported backup format ${header.format} v${header.formatVersion}`,
    );
  }
  const parts = header.parts ?? 'all';
  const known = await migrationFiles();
  const unknown = header.migrations.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new RestoreRefusedError(
      `the backup comes from a newer schema (unknown migrations: ${unknown.join(', ')}): restore with newer code`,
    );
  }

  const db = new Client({ connectionString: databaseUrl, application_name: 'sagaflow-restore' });
  await db.connect();
  const loadStarted = performance.now();
  const rows: Record<string, number> = {};
  let maxGlobalPosition: string | null | undefined;
  try {
    await assertRestorable(db, parts);
    await migrate(databaseUrl);

    await db.query('BEGIN');
    // Nobody may write while we load; then re-check emptiness under the locks.
    const lockable = await db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name = ANY($1)`,
      [[...BACKUP_TABLES]],
    );
    await db.query(
      `LOCK TABLE ${lockable.rows.map((row) => quoteIdent(row.name)).join(', ')} IN ACCESS EXCLUSIVE MODE`,
    );
    await assertRestorable(db, parts);

    let section: Section | undefined;
    let batch: string[] = [];
    let count = 0;
    let trailer: Trailer | undefined;
    const flush = async () => {
      if (!section || batch.length === 0) return;
      await db.query(section.insert, [`[${batch.join(',')}]`]);
      count += batch.length;
      batch = [];
      if (section.table === 'events' && count % 100_000 < batchRows)
        log(`restore: ${count} events`);
    };
    for await (const line of lines) {
      if (line.length === 0) continue;
      if (!line.startsWith('#')) {
        if (!section) throw new Error('corrupt backup: a row outside any section');
        batch.push(line);
        if (batch.length >= batchRows) await flush();
        continue;
      }
      const control = parseControl<Partial<SectionStart & SectionEnd & Trailer>>(line);
      if (control.section !== undefined) {
        if (section)
          throw new Error(`corrupt backup: section ${control.section} inside ${section.table}`);
        section = await prepareSection(db, control as SectionStart);
        count = 0;
      } else if (control.end !== undefined) {
        await flush();
        if (!section || section.table !== control.end || count !== control.rows) {
          throw new Error(
            `corrupt backup: section ${control.end} ends after ${count} rows, the file says ${control.rows}`,
          );
        }
        rows[section.table] = count;
        section = undefined;
      } else if (control.complete) {
        trailer = control as Trailer;
      }
    }
    if (!trailer || section)
      throw new Error(`${file} is truncated: no trailer (the backup did not finish)`);
    if (JSON.stringify(trailer.rows) !== JSON.stringify(rows)) {
      throw new Error(
        `corrupt backup: trailer counts ${JSON.stringify(trailer.rows)} ≠ restored ${JSON.stringify(rows)}`,
      );
    }
    maxGlobalPosition = trailer.maxGlobalPosition;
    // New rows must get ids above every restored one: events.global_position,
    // projection_dead_letters.id and any other identity/serial column of a restored table.
    await moveSequencesPastRestoredRows(db, Object.keys(rows));
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await db.end().catch(() => undefined);
    await lines.return(undefined);
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  log(`restore: loaded ${JSON.stringify(rows)} in ${loadSeconds.toFixed(1)} s`);

  const rebuilt: RebuildResult[] = [];
  const rebuildStarted = performance.now();
  if (!options.skipRebuild) {
    // The system every process builds (the same store, upcasters and all), on the defaults
    // rather than this process's environment: the database is the one being restored.
    const system = createSystem(
      { ...loadConfig({ LOG_LEVEL: 'warn' }), DATABASE_URL: databaseUrl },
      {
        applicationName: 'sagaflow-restore',
        logger: createLogger('warn', 'restore'),
        poolMax: ALL_PROJECTIONS.length + 2,
        // Each rebuild scans the whole log: no statement, lock or client-side timeout.
        pool: { statementTimeoutMs: 0, lockTimeoutMs: 0, queryTimeoutMs: 0 },
        inlineProjection: false,
      },
    );
    try {
      // From scratch, all at once (each on its own connection): each scans the whole log.
      rebuilt.push(
        ...(await Promise.all(
          ALL_PROJECTIONS.map((projection) => rebuildProjection(system, projection.name)),
        )),
      );
    } finally {
      await system.close();
    }
    log(
      `restore: projections rebuilt in ${((performance.now() - rebuildStarted) / 1000).toFixed(1)} s`,
    );
  }
  return {
    rows,
    maxGlobalPosition: maxGlobalPosition ?? null,
    loadSeconds,
    rebuildSeconds: (performance.now() - rebuildStarted) / 1000,
    rebuilt,
  };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const url = process.env.DATABASE_URL;
  if (!file || !url) {
    console.error(
      'usage: DATABASE_URL=postgres://<empty database> npm run restore -- <file> [--skip-rebuild]',
    );
    process.exit(2);
  }
  const result = await restoreDatabase(url, file, {
    skipRebuild: process.argv.includes('--skip-rebuild'),
    log: (message) => console.error(message),
  });
  console.log(JSON.stringify(result));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(error instanceof RestoreRefusedError ? 3 : 1);
  });
}
