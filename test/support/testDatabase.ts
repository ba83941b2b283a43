import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createPool, migrate, PostgresEventStore } from '../../src/eventstore';
import { createEventStore } from '../../src/application/eventStore';
import type { ProjectionSource } from '../../src/projections';
import { TEST_DATABASE_URL } from './infrastructure';
import { withDatabase } from '../../src/infra/databaseUrl';

/**
 * A pool with the domain's store over it (createEventStore, as every process builds it):
 * what projection runners, rebuilds and skips are given when a test brings a pool of its own.
 */
export const projectionSource = (pool: Pool): ProjectionSource => ({
  pool,
  eventStore: createEventStore(pool),
});

/** A ProjectionSource itself: `rebuildProjection(db, name)` reads through the domain's store. */
export interface TestDatabase {
  url: string;
  pool: Pool;
  eventStore: PostgresEventStore;
  /** A store that knows no event types: for tests of store mechanics with made-up events. */
  genericEventStore: PostgresEventStore;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env[TEST_DATABASE_URL] ?? process.env.DATABASE_URL;
  if (!url) throw new Error('No test database: run the tests through jest (globalSetup sets it)');
  return url;
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `sagaflow_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl(), name);
  await migrate(url);
  const pool = createPool(url, { max: 20 });
  return {
    url,
    pool,
    // The domain's store (schema versions, validation, upcasters), as every entry point builds it.
    eventStore: createEventStore(pool),
    genericEventStore: new PostgresEventStore(pool),
    async drop() {
      await pool.end();
      const client = new Client({ connectionString: serverUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
