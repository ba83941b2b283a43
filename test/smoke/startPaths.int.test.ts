import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TEST_NATS_URL, TEST_TEMPORAL_ADDRESS } from '../support/infrastructure';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * `npm start` the way a new user runs it: from a folder with no `.data`, once for each
 * combination of DATABASE_URL and TEMPORAL_ADDRESS. Each run must print the banner, answer
 * /health, and stop on Ctrl-C with exit code 0 and no FATAL line or stack trace.
 */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface StartRun {
  exitCode: number | null;
  output: string;
  health: number;
}

async function startAndStop(env: Record<string, string>): Promise<StartRun> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-start-'));
  // As root, the embedded Postgres runs as a user of its own, who must reach .data here.
  fs.chmodSync(cwd, 0o755);
  const child = spawn(TSX, [path.join(ROOT, 'src/main.ts')], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      // The OS picks the API's port (no race with the other servers' ports); the banner names it.
      PORT: '0',
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      NATS_EMBEDDED_PORT: String(await freePort()),
      NATS_EMBEDDED_MONITOR_PORT: String(await freePort()),
      ...(process.env.NATS_SERVER_PATH && { NATS_SERVER_PATH: process.env.NATS_SERVER_PATH }),
      METRICS_PORT: '0',
      LOYALTY_PORT: '0',
      TEMPORAL_TASK_QUEUE: `start-paths-${path.basename(cwd)}`,
      ...(process.env.TEMPORAL_CLI_PATH && { TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 90_000;
    while (!output.includes('Sagaflow is up')) {
      if (child.exitCode !== null || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const api = /API +(http:\/\/\S+)/.exec(output)?.[1];
    const health =
      output.includes('Sagaflow is up') && api ? (await fetch(`${api}/health`)).status : 0;
    child.kill('SIGINT');
    const exitCode = await exited;
    return { exitCode, output, health };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

describe('npm start on every combination of DATABASE_URL, TEMPORAL_ADDRESS (and NATS_URL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('start_paths');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const temporalAddress = () => process.env[TEST_TEMPORAL_ADDRESS]!;
  const cases: Array<[string, () => Record<string, string>]> = [
    ['no configuration (embedded Postgres, dev server)', () => ({})],
    ['DATABASE_URL only', () => ({ DATABASE_URL: db.url })],
    ['TEMPORAL_ADDRESS only', () => ({ TEMPORAL_ADDRESS: temporalAddress() })],
    ['both', () => ({ DATABASE_URL: db.url, TEMPORAL_ADDRESS: temporalAddress() })],
    [
      'all three (NATS_URL too)',
      () => ({
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: temporalAddress(),
        NATS_URL: process.env[TEST_NATS_URL]!,
      }),
    ],
  ];

  it.each(cases)(
    '%s: starts, answers /health, stops quietly on Ctrl-C',
    async (_name, env) => {
      const run = await startAndStop(env());
      const outcome = { health: run.health, exitCode: run.exitCode };
      if (outcome.health !== 200 || outcome.exitCode !== 0) console.log(run.output);
      expect(outcome).toEqual({ health: 200, exitCode: 0 });
      expect(run.output).not.toMatch(/FATAL|\n\s+at .+\(.+:\d+:\d+\)/);
      // The embedded nats-server's monitoring URL, or the external one named.
      expect(run.output).toMatch(
        env().NATS_URL ? /NATS +nats:\/\/.+external server/ : /NATS +nats:\/\/.+monitoring: http:/,
      );
    },
    150_000,
  );
});
