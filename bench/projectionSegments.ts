import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Pool } from 'pg';
import { createPool, migrate } from '../src/eventstore';
import { seedAccounts } from './support/seedAccounts';
import { compare, type BenchContext, type BenchEntry } from './support/suite';

const root = path.resolve(__dirname, '..');

interface Projector {
  child: ChildProcess;
  output: string[];
}

function startProjector(url: string, name: string, segments: number): Promise<Projector> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/support/catchUpProcess.ts', url, name, String(segments)],
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      if (output.includes('ready')) resolve({ child, output });
    });
    child.on('exit', (code) => reject(new Error(`projector ${name} exited ${code}`)));
  });
}

/** Stops a projector and reads its CPU time (ms) since it started. */
function stopProjector({ child, output }: Projector): Promise<number> {
  return new Promise((resolve) => {
    child.once('exit', () => {
      const line = output.find((text) => text.startsWith('{'));
      resolve(line ? (JSON.parse(line) as { cpuMs: number }).cpuMs : NaN);
    });
    child.kill('SIGTERM');
  });
}

async function caughtUp(pool: Pool, name: string, head: string, parts: number): Promise<void> {
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM projection_checkpoints
        WHERE (name = $1 AND $3 = 1 OR projection = $1) AND position = $2`,
      [name, head, parts],
    );
    if (Number(rows[0]!.n) === parts) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Catch-up of `processes` projector processes, each sharing `segments` segments. */
async function catchUp(
  url: string,
  pool: Pool,
  run: { name: string; processes: number; segments: number; head: string },
): Promise<{ seconds: number; cpuMs: number[] }> {
  const projectors = await Promise.all(
    Array.from({ length: run.processes }, () => startProjector(url, run.name, run.segments)),
  );
  const started = performance.now();
  for (const { child } of projectors) child.stdin!.write('go\n');
  await caughtUp(pool, run.name, run.head, run.segments);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, cpuMs: await Promise.all(projectors.map(stopProjector)) };
}

/**
 * Catch-up of account_balance over the seeded log: one projector process, then two
 * processes sharing two segments each (four in all), on the same database and events.
 */
export async function segmentedCatchUpEntry(context: BenchContext): Promise<BenchEntry> {
  const { url } = await context.databases.create('projection_segments');
  await migrate(url);
  const pool = createPool(url, { max: 2, applicationName: 'bench-projection-segments' });
  try {
    context.log(`seeding ${context.scaled(200_000, 1_000)} account events`);
    await seedAccounts(pool, context.scaled(200_000, 1_000));
    const { rows } = await pool.query<{ head: string; n: string }>(
      'SELECT max(global_position)::text AS head, count(*)::text AS n FROM events',
    );
    await pool.query('SELECT count(*) FROM events'); // warm the cache for both
    return await compareCatchUps(context, url, pool, rows[0]!.head, Number(rows[0]!.n));
  } finally {
    await pool.end();
  }
}

async function compareCatchUps(
  context: BenchContext,
  url: string,
  pool: Pool,
  head: string,
  events: number,
): Promise<BenchEntry> {
  context.log('catch-up: 1 projector process, 1 segment');
  const one = await catchUp(url, pool, { name: 'bench_one', processes: 1, segments: 1, head });
  context.log('catch-up: 2 projector processes, 4 segments');
  const two = await catchUp(url, pool, { name: 'bench_split', processes: 2, segments: 4, head });
  const diff = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM (
       (SELECT * FROM bench_one EXCEPT SELECT * FROM bench_split)
       UNION ALL (SELECT * FROM bench_split EXCEPT SELECT * FROM bench_one)) d`,
  );
  if (diff.rows[0]!.n !== '0') throw new Error(`read models differ in ${diff.rows[0]!.n} rows`);
  const perEvent = (cpuMs: number[]) =>
    cpuMs.map((ms) => Number(((ms * 1000) / events).toFixed(1)));
  context.log(
    `1 process ${(events / one.seconds).toFixed(0)} events/s (${one.seconds.toFixed(2)} s, CPU µs/event ${perEvent(one.cpuMs).join()}); 2 processes ${(events / two.seconds).toFixed(0)} events/s (${two.seconds.toFixed(2)} s, CPU µs/event ${perEvent(two.cpuMs).join(' + ')})`,
  );
  return compare({ rate: events / two.seconds }, { rate: events / one.seconds }, 'events/s', {
    goal: 1.3,
    events,
    segments: 4,
    processes: 2,
    cpuMicrosPerEventOne: perEvent(one.cpuMs),
    cpuMicrosPerEventTwo: perEvent(two.cpuMs),
  });
}
