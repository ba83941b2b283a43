import type { QueryResult, QueryResultRow } from 'pg';

/** Anything that runs a parameterized query: a pg Pool, PoolClient or Client. */
export interface SqlExecutor {
  query<Row extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<Row>>;
}
