/**
 * Where the outbox relay's time goes: seeds the integration benchmark's events, then runs
 * the relay alone to the head (no bare loop in the same process), and prints the rate and
 * the CPU seconds of this process, nats-server and Postgres. Run it under a profiler:
 *
 *   DATABASE_URL=postgres://... node --cpu-prof --import tsx bench/profile/relayCosts.ts [events]
 *
 * Not a suite of `npm run bench`: a tool for whoever tunes the relay.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEventStore } from '../../src/application/eventStore';
import { createPool, migrate } from '../../src/eventstore';
import { startNatsServer } from '../../src/infra/natsServer';
import { connectNats, ensureStreams, SAGAFLOW_STREAM } from '../../src/integration';
import { readRelayCheckpoint } from '../../src/integration/relay/checkpoint';
import { IntegrationRelay } from '../../src/integration/relay/relay';
import { seed } from '../integration.bench';
import { processCpuSeconds } from '../support/cpuAccounting';
import { DatabaseFactory } from '../support/database';

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('set DATABASE_URL');
  const events = Number(process.argv[2] ?? 50_000);
  const databases = new DatabaseFactory(serverUrl);
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-relay-costs-'));
  const server = await startNatsServer({ executable: process.env.NATS_SERVER_PATH, storeDir });
  const nc = await connectNats({ url: server.url, name: 'relay-costs' });
  try {
    const { url } = await databases.create('relay_costs');
    await migrate(url);
    const pool = createPool(url, { max: 4 });
    const store = createEventStore(pool);
    await seed(pool, Math.ceil(events / 2));
    const head = await store.headPosition();
    await ensureStreams(await jetstreamManager(nc));
    const relay = new IntegrationRelay({ pool, eventStore: store, nats: nc, window: 256 });
    const before = processCpuSeconds();
    const started = performance.now();
    await relay.start();
    while ((await readRelayCheckpoint(pool)).position !== head) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (performance.now() - started) / 1000;
    const after = processCpuSeconds();
    await relay.stop();

    const messages = (await (await jetstreamManager(nc)).streams.info(SAGAFLOW_STREAM)).state
      .messages;
    const cpu = (role: string) => ((after[role] ?? 0) - (before[role] ?? 0)).toFixed(2);
    console.log(
      `${messages} messages in ${seconds.toFixed(2)} s (${Math.round(messages / seconds)}/s); ` +
        `CPU s: relay ${cpu('self')}, nats-server ${cpu('nats-server')}, postgres ${cpu('postgres')}`,
    );
    await pool.end();
  } finally {
    await nc.close();
    await server.stop();
    fs.rmSync(storeDir, { recursive: true, force: true });
    await databases.dropAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
