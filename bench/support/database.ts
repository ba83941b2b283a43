import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { withDatabase } from '../../src/infra/databaseUrl';

/** A database created for one benchmark target; dropped by `dropAll`. */
export interface BenchDatabase {
  name: string;
  url: string;
}

async function withAdminClient<T>(
  serverUrl: string,
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates and drops the fresh databases of a run (`sagaflow_bench_<run>_<label>`), so no
 * target inherits another's tables, caches or bloat.
 */
export class DatabaseFactory {
  private readonly runId = randomBytes(4).toString('hex');
  private readonly created: BenchDatabase[] = [];

  constructor(private readonly serverUrl: string) {}

  async create(label: string): Promise<BenchDatabase> {
    const safeLabel = label.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const name = `sagaflow_bench_${this.runId}_${safeLabel}`.slice(0, 63);
    await withAdminClient(this.serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
    const database = { name, url: withDatabase(this.serverUrl, name) };
    this.created.push(database);
    return database;
  }

  /** Drops every database this factory created (FORCE ends stray connections). */
  async dropAll(): Promise<void> {
    const databases = this.created.splice(0);
    if (databases.length === 0) return;
    await withAdminClient(this.serverUrl, async (client) => {
      for (const { name } of databases) {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }
    });
  }
}

export async function serverVersion(serverUrl: string): Promise<string> {
  return withAdminClient(serverUrl, async (client) => {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  });
}
