/**
 * The inbound delivery consumer on its own (`npm run start:inbound`): the carrier's
 * shipment.delivered.v1 into order sagas. `npm start` runs it in-process. Several may run:
 * they share the durable consumer, and the inbox keeps each message's effect single.
 */
import { connectClient } from '../temporal/connection';
import { loadConfig, ConfigError } from '../config';
import { createPool } from '../eventstore/pool';
import { untilShutdownSignal } from '../infra/shutdownSignal';
import { connectAndEnsureStreams } from '../integration';
import { streamSettingsOf } from '../integration/runtime';
import { createLogger } from '../logger';
import { startDeliveryConsumer } from './deliveryConsumer';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL || !config.TEMPORAL_ADDRESS || !config.NATS_URL)
    throw new ConfigError('start:inbound needs DATABASE_URL, TEMPORAL_ADDRESS and NATS_URL');
  const log = createLogger(config.LOG_LEVEL, 'sagaflow-inbound');
  const pool = createPool(config.DATABASE_URL, { max: 4, applicationName: 'sagaflow-inbound' });
  const temporal = await connectClient({
    address: config.TEMPORAL_ADDRESS,
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const nc = await connectAndEnsureStreams(
    { url: config.NATS_URL, name: 'sagaflow-inbound' },
    streamSettingsOf(config),
  );
  const consumer = await startDeliveryConsumer({ nc, pool, client: temporal.client, log });
  log.info('delivery consumer running');
  await untilShutdownSignal();
  await consumer.stop();
  await nc.drain();
  await temporal.close();
  await pool.end();
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
