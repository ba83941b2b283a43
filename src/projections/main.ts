/**
 * `npm run start:projector`: runs the catch-up runners of every projection until SIGTERM or
 * SIGINT (the projector role of ../system/roles.ts). Several projectors may run at once;
 * each projection has one owner at a time. Needs DATABASE_URL.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { runMain, runUntilStopped } from '../system/runProcess';
import { startProcess } from '../system/startProcess';

runMain('sagaflow-projector', async () => {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'projector');
  return runUntilStopped(await startProcess('projector', config, { logger }), logger);
});
