/**
 * `npm run start:inbound`: the inbound delivery consumer on its own (the inbound role of
 * ../system/roles.ts): the carrier's shipment.delivered.v1 into order sagas. `npm start` runs
 * it in-process. Several may run: they share the durable consumer, and the inbox keeps each
 * message's effect single.
 */
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { runMain, runUntilStopped } from '../system/runProcess';
import { startProcess } from '../system/startProcess';

runMain('sagaflow-inbound', async () => {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'inbound');
  return runUntilStopped(await startProcess('inbound', config, { logger }), logger);
});
