/**
 * `npm run start:worker`: one saga worker process (the worker role of ../system/roles.ts:
 * the merchant account, the saga worker and the reconcilers). Run as many as you need; they
 * share the task queue. Needs DATABASE_URL and TEMPORAL_ADDRESS.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { runMain, runUntilStopped } from '../system/runProcess';
import { startProcess } from '../system/startProcess';

runMain('sagaflow-worker', async () => {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  return runUntilStopped(await startProcess('worker', config, { logger }), logger);
});
