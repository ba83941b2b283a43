import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { connectAndEnsureStreams } from '../integration';
import { streamSettingsOf } from '../integration/runtime';
import { loadLoyaltyConfig } from '../services/loyalty/config';
import { startLoyaltyService } from '../services/loyalty/service';
import { carrierSimulatorSettingsFrom } from '../services/carrierSimulator/settings';
import { startCarrierSimulator } from '../services/carrierSimulator/simulator';
import { startDeliveryConsumer } from './deliveryConsumer';

export interface BusConsumersDeps {
  /** NATS_URL and DATABASE_URL as `npm start` resolved them (embedded servers). */
  config: Config & { NATS_URL: string; DATABASE_URL: string };
  pool: Pool;
  temporal: Client;
  log: Logger;
}

/**
 * What `npm start` runs on the consuming side of the bus, in its one process: the inbound
 * delivery consumer, the simulated carrier (CARRIER_SIMULATOR=on) and the loyalty service
 * (in its own schema, on its own pool; in production each runs as its own process).
 */
export async function startBusConsumers(deps: BusConsumersDeps) {
  const { config, log } = deps;
  const nc = await connectAndEnsureStreams(
    { url: config.NATS_URL, name: 'sagaflow-consumers' },
    streamSettingsOf(config),
  );
  const stops: Array<() => Promise<unknown>> = [() => nc.drain()];
  const stop = async () => {
    for (const next of stops.splice(0).reverse()) await next().catch(() => undefined);
  };
  try {
    const delivery = await startDeliveryConsumer({
      nc,
      pool: deps.pool,
      client: deps.temporal,
      log,
    });
    stops.push(() => delivery.stop());
    const banner: string[] = [];
    if (config.CARRIER_SIMULATOR === 'on') {
      const carrier = await startCarrierSimulator({
        nc,
        log,
        settings: carrierSimulatorSettingsFrom(),
      });
      stops.push(() => carrier.stop());
      banner.push(
        '  Carrier      simulated (confirms deliveries; CARRIER_SIMULATOR=off for a real one)',
      );
    }
    const loyalty = await startLoyaltyService({
      config: loadLoyaltyConfig({
        ...process.env,
        DATABASE_URL: config.DATABASE_URL,
        NATS_URL: config.NATS_URL,
      }),
      nc,
      log,
    });
    stops.push(() => loyalty.stop());
    banner.push(`  Loyalty      ${loyalty.url}/customers/<customerId>/points`);
    return { banner, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
