import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/infra/embeddedPostgres';
import { startTemporalDevServer, type DevServerHandle } from '../../src/infra/temporalDevServer';
import { startNatsServer, type NatsServerHandle } from '../../src/infra/natsServer';

/** Env vars through which globalSetup hands the shared servers to the test workers. */
export const TEST_DATABASE_URL = 'SAGAFLOW_TEST_DATABASE_URL';
export const TEST_TEMPORAL_ADDRESS = 'SAGAFLOW_TEST_TEMPORAL_ADDRESS';
export const TEST_NATS_URL = 'SAGAFLOW_TEST_NATS_URL';
export const TEST_NATS_MONITOR_URL = 'SAGAFLOW_TEST_NATS_MONITOR_URL';

interface Running {
  postgres?: EmbeddedPostgresHandle;
  temporal?: DevServerHandle;
  nats?: NatsServerHandle;
  natsDir?: string;
}
const running: Running = ((globalThis as { __sagaflowTestInfra?: Running }).__sagaflowTestInfra ??=
  {});

export async function startTestInfrastructure(): Promise<void> {
  if (!process.env.DATABASE_URL) {
    running.postgres = await startEmbeddedPostgres({
      dataDir: path.join(os.tmpdir(), `sagaflow-test-pg-${process.pid}`),
      port: 54000 + (process.pid % 1000),
    });
    process.env[TEST_DATABASE_URL] = running.postgres.databaseUrl;
  } else {
    process.env[TEST_DATABASE_URL] = process.env.DATABASE_URL;
  }
  if (process.env.TEMPORAL_ADDRESS) {
    process.env[TEST_TEMPORAL_ADDRESS] = process.env.TEMPORAL_ADDRESS;
  } else {
    running.temporal = await startTemporalDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH,
      ui: false,
    });
    process.env[TEST_TEMPORAL_ADDRESS] = running.temporal.address;
  }
  // Never the machine's nats-server on 4222 (2.9, shared): our own, on free ports.
  running.natsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-test-nats-'));
  running.nats = await startNatsServer({
    executable: process.env.NATS_SERVER_PATH,
    storeDir: running.natsDir,
  });
  process.env[TEST_NATS_URL] = running.nats.url;
  process.env[TEST_NATS_MONITOR_URL] = running.nats.monitorUrl;
}

export async function stopTestInfrastructure(): Promise<void> {
  await running.nats?.stop();
  if (running.natsDir) fs.rmSync(running.natsDir, { recursive: true, force: true });
  await running.temporal?.stop();
  await running.postgres?.stop();
}
