import { Client } from 'pg';
import { migrate } from '../../src/eventstore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('migrate');
  });
  afterAll(() => db?.drop());

  it('can be applied by several processes starting at once', async () => {
    // A fresh database, then six migrators at once (as when workers, API and projector start).
    const client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await client.end();
    await Promise.all(Array.from({ length: 6 }, () => migrate(db.url)));
    const applied = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM pgmigrations');
    const files = await db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('events', 'snapshots', 'data_subject_keys')",
    );
    expect(Number(applied.rows[0]?.n)).toBeGreaterThanOrEqual(4);
    expect(Number(files.rows[0]?.n)).toBe(3);
  });
});
