/** `npm run migrate`: applies pending migrations to DATABASE_URL. */
import { loadConfig } from '../config';
import { migrate } from './migrate';

async function main(): Promise<void> {
  const { DATABASE_URL } = loadConfig();
  if (!DATABASE_URL) throw new Error('DATABASE_URL is not set: nothing to migrate');
  await migrate(DATABASE_URL, (message) => console.log(message));
  console.log('migrations applied');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
