import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runner } from 'node-pg-migrate';

export const LOYALTY_SCHEMA = 'loyalty';

/** The loyalty service's migrations, in its own schema and with its own migrations table. */
export async function migrateLoyalty(databaseUrl: string, waitForLockMs = 60_000): Promise<void> {
  const deadline = Date.now() + waitForLockMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await runner({
        databaseUrl,
        dir: path.join(__dirname, 'migrations'),
        direction: 'up',
        schema: LOYALTY_SCHEMA,
        createSchema: true,
        migrationsSchema: LOYALTY_SCHEMA,
        createMigrationsSchema: true,
        migrationsTable: 'migrations',
        count: Infinity,
        checkOrder: true,
        log: () => {},
        verbose: false,
      });
      return;
    } catch (error) {
      // Two instances starting together: one migrates, the other waits and finds nothing to do.
      const locked = /Another migration is already running/.test(String((error as Error).message));
      if (!locked || Date.now() > deadline) throw error;
      await sleep(delay);
    }
  }
}
