/**
 * Batched writes for read models with one row per stream: a batch of events is folded in
 * memory per row, then written with one multi-row statement, instead of one statement per
 * event. The version guard is the same as per event: an event applies only when
 * `event.version = row.version + 1`, or the row is absent and the version is 1.
 */
import type { ClientBase } from 'pg';
import type { RecordedEvent } from '../eventstore';

/** SQL types the columns of a keyed read model use (each becomes an array parameter). */
export type ColumnType = 'text' | 'integer' | 'bigint' | 'jsonb' | 'timestamptz';

export interface KeyedRow {
  /** The stream version the row reflects. */
  version: number;
}

/**
 * A read model whose rows are keyed by one stream each. `fold` is its logic, in one place:
 * it gets the row as it stands (undefined: absent) and an event whose version follows the
 * row's, and returns the next row (version and position included), or undefined when the
 * event does not apply (e.g. a stream that does not start with its opening event).
 */
export interface KeyedRowModel<Row extends KeyedRow> {
  /** Column names and types in table order; the first is the primary key. */
  readonly columns: readonly (readonly [name: keyof Row & string, type: ColumnType])[];
  keyOf(event: RecordedEvent): string;
  fold(row: Row | undefined, event: RecordedEvent): Row | undefined;
}

/**
 * Another writer inserted a row this batch folded several events into (it saw the row
 * absent): the batch cannot tell which of them are applied. The engine then retries the
 * batch event by event, where the guards decide.
 */
export class KeyedRowConflictError extends Error {
  override readonly name = 'KeyedRowConflictError';
}

/** The handlers of a Projection (`handle`, `applyBatch`) for a keyed read model. */
export function keyedRowHandlers<Row extends KeyedRow>(model: KeyedRowModel<Row>) {
  return {
    handle: (db: ClientBase, event: RecordedEvent, table: string) =>
      applyKeyedRows(model, db, [event], table),
    applyBatch: (db: ClientBase, events: readonly RecordedEvent[], table: string) =>
      applyKeyedRows(model, db, events, table),
  };
}

interface Folded<Row> {
  row: Row | undefined;
  /** The version of the row as read (0: absent). */
  base: number;
  events: number;
}

/** Applies events (in log order) to `table` inside the caller's transaction. */
export async function applyKeyedRows<Row extends KeyedRow>(
  model: KeyedRowModel<Row>,
  db: ClientBase,
  events: readonly RecordedEvent[],
  table: string,
): Promise<void> {
  if (events.length === 0) return;
  const rows = await lockRows(model, db, events, table);
  for (const event of events) {
    const key = model.keyOf(event);
    const entry = rows.get(key) ?? { row: undefined, base: 0, events: 0 };
    rows.set(key, entry);
    if (event.version !== (entry.row?.version ?? 0) + 1) continue;
    const next = model.fold(entry.row, event);
    if (next === undefined) continue;
    entry.row = next;
    entry.events++;
  }
  const changed = [...rows.values()].filter((entry) => entry.events > 0);
  if (changed.length === 0) return;
  const written = await writeRows(model, db, changed, table);
  for (const entry of changed) {
    const key = String(entry.row![model.columns[0]![0]]);
    // A single version-1 event losing the insert race was applied by the other writer.
    if (!written.has(key) && (entry.base > 0 || entry.events > 1)) {
      throw new KeyedRowConflictError(`row ${key} of ${table} was written concurrently`);
    }
  }
}

/** The current rows of the batch's keys, locked so their versions hold until commit. */
async function lockRows<Row extends KeyedRow>(
  model: KeyedRowModel<Row>,
  db: ClientBase,
  events: readonly RecordedEvent[],
  table: string,
): Promise<Map<string, Folded<Row>>> {
  const sql = sqlOf(model);
  const keyColumn = model.columns[0]![0];
  const keys = [...new Set(events.map((event) => model.keyOf(event)))];
  const result = await db.query<Record<string, unknown>>(
    `SELECT ${sql.columns} FROM ${table}
      WHERE ${sql.key} = ANY($1::text[]) FOR UPDATE`,
    [keys],
  );
  const rows = new Map<string, Folded<Row>>();
  for (const raw of result.rows) {
    const row = decodeRow(model, raw);
    rows.set(String(raw[keyColumn]), { row, base: row.version, events: 0 });
  }
  return rows;
}

function decodeRow<Row extends KeyedRow>(
  model: KeyedRowModel<Row>,
  raw: Record<string, unknown>,
): Row {
  const row: Record<string, unknown> = {};
  for (const [name, type] of model.columns) {
    const value = raw[name];
    // pg hands bigint out as text; the read models' figures fit a double.
    row[name] = type === 'bigint' && value !== null ? Number(value) : value;
  }
  return row as unknown as Row;
}

const encode = (value: unknown, type: ColumnType): unknown => {
  if (value === null || value === undefined) return null;
  if (type === 'jsonb') return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  return value;
};

/**
 * One statement for the whole batch: rows that existed are updated under their read
 * version, new ones inserted (ON CONFLICT DO NOTHING: a concurrent insert wins). Returns
 * the keys written.
 */
async function writeRows<Row extends KeyedRow>(
  model: KeyedRowModel<Row>,
  db: ClientBase,
  changed: readonly Folded<Row>[],
  table: string,
): Promise<Set<string>> {
  const sql = sqlOf(model);
  const arrays = model.columns.map(([name, type]) =>
    changed.map((entry) => encode(entry.row![name], type)),
  );
  const params = [...arrays, changed.map((entry) => entry.base)];
  const result = await db.query<{ key: string }>(
    `WITH input AS (
       SELECT * FROM unnest(${sql.unnest}) AS u(${sql.columns}, base_version)
     ),
     updated AS (
       UPDATE ${table} AS t SET ${sql.assignments}
         FROM input
        WHERE input.base_version > 0 AND t.${sql.key} = input.${sql.key}
          AND t.version = input.base_version
       RETURNING t.${sql.key} AS key
     ),
     inserted AS (
       INSERT INTO ${table} (${sql.columns})
       SELECT ${sql.columns} FROM input WHERE base_version = 0
       ON CONFLICT (${sql.key}) DO NOTHING
       RETURNING ${sql.key} AS key
     )
     SELECT key FROM updated UNION ALL SELECT key FROM inserted`,
    params,
  );
  return new Set(result.rows.map((row) => String(row.key)));
}

/** The SQL fragments of a model's statements: only its declared, checked column names. */
interface ModelSql {
  columns: string;
  key: string;
  assignments: string;
  unnest: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const modelSql = new WeakMap<object, ModelSql>();

/** Built once per model; a column name that is not a plain identifier is a defect, refused. */
function sqlOf<Row extends KeyedRow>(model: KeyedRowModel<Row>): ModelSql {
  const known = modelSql.get(model);
  if (known) return known;
  const names = model.columns.map(([name]) => name);
  const bad = names.find((name) => !IDENTIFIER.test(name));
  if (bad !== undefined)
    throw new Error(`read-model column ${JSON.stringify(bad)} is not an identifier`);
  const [key, ...rest] = names;
  const sql: ModelSql = {
    columns: names.join(', '),
    key: key!,
    assignments: rest.map((name) => `${name} = input.${name}`).join(', '),
    unnest: [
      ...model.columns.map(([, type], i) => `$${i + 1}::${type}[]`),
      `$${model.columns.length + 1}::integer[]`,
    ].join(', '),
  };
  modelSql.set(model, sql);
  return sql;
}
