import os from 'node:os';
import path from 'node:path';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/infra/embeddedPostgres';
import { startTemporalDevServer, type DevServerHandle } from '../../src/infra/temporalDevServer';

/** Env vars through which globalSetup hands the shared servers to the test workers. */
export const TEST_DATABASE_URL = 'SAGAFLOW_TEST_DATABASE_URL';
export const TEST_TEMPORAL_ADDRESS = 'SAGAFLOW_TEST_TEMPORAL_ADDRESS';

interface Running {
  postgres?: EmbeddedPostgresHandle;
  temporal?: DevServerHandle;
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
}

export async function stopTestInfrastructure(): Promise<void> {
  await running.temporal?.stop();
  await running.postgres?.stop();
}
