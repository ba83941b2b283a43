/**
 * `npm start`: the whole system in one process on embedded defaults. Postgres (embedded
 * unless DATABASE_URL), the Temporal dev server with its Web UI and the saga search
 * attributes (unless TEMPORAL_ADDRESS), nats-server with JetStream (unless NATS_URL), then
 * the all-in-one role of ./system/roles.ts: migrations, the saga worker, the projection
 * runner, the outbox relay, the bus consumers (delivery, simulated carrier, loyalty) and the
 * HTTP API. Ctrl-C stops all of it, in reverse order of dependency. Production runs the parts
 * separately: start:api, start:worker, start:projector, start:relay, start:inbound,
 * start:loyalty.
 */
import path from 'node:path';
import { loadConfig } from './config';
import { startEmbeddedPostgres } from './infra/embeddedPostgres';
import { startTemporalDevServer } from './infra/temporalDevServer';
import { startNats } from './integration/runtime';
import { createLogger } from './logger';
import { runMain, runUntilStopped } from './system/runProcess';
import { startProcess } from './system/startProcess';
import { installTemporalRuntime } from './worker/runtime';

async function main(): Promise<number> {
  const loaded = loadConfig();
  const logger = createLogger(loaded.LOG_LEVEL);
  // What the process starts besides the system (./system/roles.ts): stopped after it.
  const infrastructure: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const stopInfrastructure = async () => {
    for (const { name, stop } of infrastructure.reverse()) {
      await stop().catch((error: unknown) =>
        logger.warn({ err: error }, `stopping ${name} failed`),
      );
    }
  };

  try {
    let databaseUrl = loaded.DATABASE_URL;
    if (!databaseUrl) {
      logger.info({ dataDir: loaded.EMBEDDED_PG_DIR }, 'starting embedded PostgreSQL');
      const postgres = await startEmbeddedPostgres({
        dataDir: loaded.EMBEDDED_PG_DIR,
        port: loaded.EMBEDDED_PG_PORT,
      });
      infrastructure.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
      databaseUrl = postgres.databaseUrl;
    }

    // Before anything touches the SDK (the dev server launcher does): logs and SDK metrics.
    installTemporalRuntime({
      logLevel: loaded.LOG_LEVEL === 'info' ? 'warn' : loaded.LOG_LEVEL,
      metricsPort: loaded.METRICS_PORT,
    });
    let temporalAddress = loaded.TEMPORAL_ADDRESS;
    let temporalUiUrl = loaded.TEMPORAL_UI_URL;
    if (!temporalAddress) {
      logger.info('starting the Temporal dev server');
      const dev = await startTemporalDevServer({
        cliPath: loaded.TEMPORAL_CLI_PATH,
        port: loaded.TEMPORAL_DEV_PORT,
        uiPort: loaded.TEMPORAL_UI_PORT,
        dbFilename: path.resolve('.data', 'temporal.db'),
        namespace: loaded.TEMPORAL_NAMESPACE,
      });
      infrastructure.push({ name: 'Temporal dev server', stop: () => dev.stop() });
      temporalAddress = dev.address;
      temporalUiUrl ??= dev.uiUrl;
    }
    const nats = await startNats(loaded, (message) => logger.info(message));
    infrastructure.push({ name: 'nats-server', stop: () => nats.stop() });
    const config = {
      ...loaded,
      NATS_URL: nats.url,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_UI_URL: temporalUiUrl,
    };
    const running = await startProcess('all-in-one', config, { logger });

    console.log(
      [
        '',
        'Sagaflow is up',
        ...running.banner,
        `  Temporal UI  ${temporalUiUrl ?? '(not available: TEMPORAL_UI_URL is not set)'}`,
        `  NATS         ${nats.url}   (monitoring: ${nats.monitorUrl ?? 'external server'})`,
        '',
        'Try it: npm run demo   (in another terminal)   ·   Ctrl-C stops everything',
        '',
      ].join('\n'),
    );

    const code = await runUntilStopped(running, logger);
    await stopInfrastructure();
    return code;
  } catch (error) {
    await stopInfrastructure();
    throw error;
  }
}

runMain('sagaflow', main);
