import type { QueryResult, QueryResultRow } from 'pg';

/** A statement the hot path runs again and again, prepared once per connection. */
export interface NamedStatement {
  name: string;
  text: string;
  values?: unknown[];
}

/** Anything that runs a parameterized query: a pg Pool, PoolClient or Client. */
export interface SqlExecutor {
  query<Row extends QueryResultRow = QueryResultRow>(
    text: string | NamedStatement,
    values?: unknown[],
  ): Promise<QueryResult<Row>>;
}

/**
 * Names a statement so that each connection prepares it once: Postgres then skips parsing
 * and, after a few runs, planning. For an append plus a stream read this cut the server's
 * CPU by about 30% (bench/profile/namedStatements.ts). Behind PgBouncer in transaction
 * mode this needs PgBouncer 1.21 or later with `max_prepared_statements` set.
 */
export function named(name: string, text: string, values: unknown[]): NamedStatement {
  return { name, text, values };
}
