/**
 * The simulated carrier on its own (`npm run start:carrier`): for a deployment that wants
 * one beside its services (docker-compose profile `simulated-carrier`). NATS_URL names the bus.
 */
import { connectAndEnsureStreams } from '../../integration';
import { untilShutdownSignal } from '../../infra/shutdownSignal';
import { createLogger } from '../../logger';
import { carrierSimulatorSettingsFrom } from './settings';
import { startCarrierSimulator } from './simulator';

async function main(): Promise<void> {
  const settings = carrierSimulatorSettingsFrom();
  const log = createLogger(process.env.LOG_LEVEL || 'info', 'carrier-simulator');
  const nc = await connectAndEnsureStreams({
    url: process.env.NATS_URL || 'nats://127.0.0.1:4222',
    name: 'carrier-simulator',
  });
  const carrier = await startCarrierSimulator({ nc, log, settings });
  log.info({ settings }, 'carrier simulator running');
  await untilShutdownSignal();
  await carrier.stop();
  await nc.drain();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
