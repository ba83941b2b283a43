/**
 * The loyalty service on its own: `npm run start:loyalty`. Needs NATS_URL (Sagaflow's bus)
 * and LOYALTY_DATABASE_URL (or DATABASE_URL). `npm start` runs it inside Sagaflow's process
 * instead, on the embedded NATS.
 */
import { connectAndEnsureStreams } from '../../integration';
import { createLogger } from '../../logger';
import { loadLoyaltyConfig } from './config';
import { startLoyaltyService } from './service';

async function main(): Promise<void> {
  const config = loadLoyaltyConfig();
  const log = createLogger(config.logLevel, 'loyalty');
  const nc = await connectAndEnsureStreams({ url: config.natsUrl, name: 'loyalty' });
  const service = await startLoyaltyService({ config, nc, log });
  const stop = async () => {
    await service.stop();
    await nc.drain();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
