/**
 * `npm run start:api`: the HTTP API (the api role of ../system/roles.ts). Needs DATABASE_URL
 * and TEMPORAL_ADDRESS; listens on HOST:PORT and shuts down gracefully on SIGTERM/SIGINT.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { runMain, runUntilStopped } from '../system/runProcess';
import { startProcess } from '../system/startProcess';

runMain('sagaflow-api', async () => {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'api');
  return runUntilStopped(await startProcess('api', config, { logger }), logger);
});
