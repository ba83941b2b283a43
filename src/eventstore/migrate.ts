import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { setTimeout as sleep } from 'node:timers/promises';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/**
 * Applies every pending migration. Processes that start together (several workers, the API
 * and the projector) may all call this: node-pg-migrate lets one hold its lock and makes the
 * others fail at once, so they wait for it and try again (then find nothing to do).
 */
export async function migrate(
  databaseUrl: string,
  log: (message: string) => void = () => {},
  options: { waitForLockMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.waitForLockMs ?? 120_000);
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
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
      return;
    } catch (error) {
      const lockedByAnother = /Another migration is already running/.test(
        String((error as Error).message),
      );
      if (!lockedByAnother || Date.now() > deadline) throw error;
      await sleep(delay);
    }
  }
}
