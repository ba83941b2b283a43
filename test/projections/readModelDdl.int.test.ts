import { ALL_PROJECTIONS } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * Generation 1 of the built-in read models comes from a migration (so reads work before a
 * projector first runs); every later generation from the projection's createTables. The
 * migration is history and stays as it ran; this keeps the two from telling different
 * stories while a projection is still on the DDL the migration wrote.
 */
describe('read-model DDL: the migration and the projections agree', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('read_model_ddl');
  });
  afterAll(async () => db?.drop());

  const shape = async (table: string) => {
    const columns = await db.pool.query<Record<string, unknown>>(
      `SELECT column_name, data_type, is_nullable, column_default, ordinal_position
         FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    const indexes = await db.pool.query<{ indexdef: string }>(
      'SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname',
      [table],
    );
    return {
      columns: columns.rows,
      indexes: indexes.rows.map((row) => row.indexdef.replaceAll(table, '<table>')),
    };
  };

  it.each(
    ALL_PROJECTIONS
      // A projection past version 1 may have moved on from the migration's DDL on purpose.
      .filter((projection) => projection.version === 1)
      .map((projection) => [projection.name, projection] as const),
  )(
    '%s: createTables builds what the migration built for generation 1',
    async (name, projection) => {
      const scratch = `${name}_ddl_check`;
      await projection.createTables(db.pool, scratch);
      const [migrated, created] = [await shape(`${name}_g1`), await shape(scratch)];
      expect(migrated.columns.length).toBeGreaterThan(0);
      expect(created).toEqual(migrated);
    },
  );
});
