/**
 * `npm run start:relay`: the outbox relay on its own (the relay role of ../../system/roles.ts),
 * until SIGTERM or SIGINT. Needs DATABASE_URL and NATS_URL. Several may run: one owns the
 * relay, the others take over when it dies.
 */
import { loadConfig } from '../../config';
import { createLogger } from '../../logger';
import { runMain, runUntilStopped } from '../../system/runProcess';
import { startProcess } from '../../system/startProcess';

runMain('sagaflow-relay', async () => {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'relay');
  return runUntilStopped(await startProcess('relay', config, { logger }), logger);
});
