/**
 * `npm run archive -- [--dry-run] [--after <duration>]`: one archiving run against
 * DATABASE_URL. Moves every finished stream whose last event is older than ARCHIVE_AFTER
 * (or `--after`, e.g. `30d`) to the archive; `--dry-run` only counts them. Prints the
 * result as one JSON line.
 */
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { ConfigError, loadConfig } from '../config';
import { archiveFinishedStreams } from './archiver';
import { liveOnlyProjectionNames } from './liveOnly';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'dry-run': { type: 'boolean', default: false }, after: { type: 'string' } },
  });
  const config = loadConfig({
    ...process.env,
    ...(values.after && { ARCHIVE_AFTER: values.after }),
  });
  if (!config.DATABASE_URL) {
    throw new ConfigError('npm run archive needs DATABASE_URL (the database to archive)');
  }
  const pool = new Pool({
    connectionString: config.DATABASE_URL,
    max: 2,
    application_name: 'sagaflow-archive',
  });
  try {
    const result = await archiveFinishedStreams(pool, {
      olderThanMs: config.ARCHIVE_AFTER,
      dryRun: values['dry-run'],
      batchSize: config.ARCHIVE_BATCH_SIZE,
      liveOnlyProjections: liveOnlyProjectionNames(),
      log: (message) => console.error(message),
    });
    console.log(JSON.stringify(result));
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
