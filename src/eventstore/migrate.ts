import path from 'node:path';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/** Applies every pending migration. Safe to run concurrently: node-pg-migrate takes a lock. */
export async function migrate(
  databaseUrl: string,
  log: (message: string) => void = () => {},
): Promise<void> {
  await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    checkOrder: true,
    log,
    verbose: false,
  });
}
