import { Client as PgClient } from 'pg';

/** The harness's own connections: connection kills spare them. */
export const APP_NAME = 'sagaflow-chaos';

/** Runs `fn` on a connection of its own to the Postgres server (create/drop/terminate). */
export async function withAdmin<T>(
  serverUrl: string,
  fn: (client: PgClient) => Promise<T>,
): Promise<T> {
  const client = new PgClient({ connectionString: serverUrl, application_name: APP_NAME });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
