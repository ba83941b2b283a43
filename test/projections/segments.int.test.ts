import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { getProjectionStatuses, rebuildProjection } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { appendTicks, logProjection, waitFor } from './support';

/**
 * Segments over real projector processes: `seg_log` is deliberately not idempotent (one
 * row per application), so its rows show exactly-once delivery across owners, crashes and
 * rebalancing.
 */
const SEGMENTS = 6;
const root = path.resolve(__dirname, '../..');

function startRunner(db: TestDatabase, name: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/projections/fixtures/segmentRunner.ts'],
    {
      cwd: root,
      env: { ...process.env, DATABASE_URL: db.url, RUNNER_NAME: name, SEGMENTS: String(SEGMENTS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`runner ${name} exited ${code}: ${errors}`)));
  });
}

function stopRunner(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Which runner (by name) owns which segment, from the server's advisory locks. */
async function owners(db: TestDatabase): Promise<Map<string, string[]>> {
  const result = await db.pool.query<{ runner: string; segment: number }>(
    `SELECT substring(a.application_name FROM 'seg-runner-(.*)') AS runner, c.segment
       FROM projection_checkpoints c
       JOIN pg_locks l
         ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint)
            = hashtextextended('sagaflow-projection-owner:' || c.name, 0)
       JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE c.projection = 'seg_log'
      ORDER BY c.segment`,
  );
  const byRunner = new Map<string, string[]>();
  for (const { runner, segment } of result.rows) {
    byRunner.set(runner, [...(byRunner.get(runner) ?? []), String(segment)]);
  }
  return byRunner;
}

const ownedCounts = async (db: TestDatabase) =>
  [...(await owners(db)).entries()]
    .map(([runner, segments]) => `${runner}:${segments.length}`)
    .sort();

async function appliedOnce(db: TestDatabase, positions: readonly bigint[]): Promise<boolean> {
  const result = await db.pool.query<{ rows: string; distinct: string; missing: string }>(
    `SELECT (SELECT count(*) FROM seg_log)::text AS rows,
            (SELECT count(DISTINCT position) FROM seg_log)::text AS distinct,
            (SELECT count(*) FROM unnest($1::bigint[]) p
              WHERE p NOT IN (SELECT position FROM seg_log))::text AS missing`,
    [positions.map(String)],
  );
  const row = result.rows[0]!;
  if (Number(row.rows) !== Number(row.distinct))
    throw new Error(`duplicates: ${JSON.stringify(row)}`);
  return row.missing === '0' && Number(row.rows) === positions.length;
}

describe('projection segments over several projector processes', () => {
  let db: TestDatabase;
  const runners: ChildProcess[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('segments');
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((child) => stopRunner(child, 'SIGKILL')));
    await db.drop();
  });

  it('three processes under a live write load, one killed: every event applied exactly once, equal to a single-segment rebuild', async () => {
    runners.push(...(await Promise.all(['a', 'b', 'c'].map((name) => startRunner(db, name)))));
    await waitFor(
      async () => (await ownedCounts(db)).join() === 'a:2,b:2,c:2',
      'three runners to own two segments each',
      20_000,
    );
    const positions: bigint[] = [];
    for (let round = 0; round < 40; round++) {
      positions.push(...(await appendTicks(db, 25)));
      if (round === 15) await stopRunner(runners[1]!, 'SIGKILL'); // b crashes mid-run
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(
      async () => (await ownedCounts(db)).join() === 'a:3,c:3',
      'the survivors to take b’s segments over',
      20_000,
    );
    await waitFor(() => appliedOnce(db, positions), 'every event applied once', 30_000);

    // Row for row what a single-segment rebuild (and a parallel 6-segment one) makes.
    await db.pool.query('CREATE TABLE seg_log_live AS SELECT * FROM seg_log');
    await Promise.all(runners.splice(0).map((child) => stopRunner(child)));
    const source = { pool: db.pool, eventStore: db.genericEventStore };
    const differing = async () => {
      const diff = await db.pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM (
           (SELECT * FROM seg_log EXCEPT ALL SELECT * FROM seg_log_live) UNION ALL
           (SELECT * FROM seg_log_live EXCEPT ALL SELECT * FROM seg_log)) d`,
      );
      return Number(diff.rows[0]!.n);
    };
    const split = await rebuildProjection(source, 'seg_log', undefined, {
      projections: [{ ...logProjection('seg_log'), segments: SEGMENTS }],
    });
    expect(split.events).toBe(positions.length);
    expect(await differing()).toBe(0);
    const single = await rebuildProjection(source, 'seg_log', undefined, {
      projections: [logProjection('seg_log')],
    });
    expect(single.events).toBe(positions.length);
    expect(await differing()).toBe(0);
  });

  it('adding a process moves segments to it, never to two owners at once', async () => {
    runners.push(await startRunner(db, 'first'));
    await waitFor(async () => (await ownedCounts(db)).join() === 'first:6', 'one owner of all');
    const positions = await appendTicks(db, 100);
    runners.push(await startRunner(db, 'second'));
    await waitFor(
      async () => (await ownedCounts(db)).join() === 'first:3,second:3',
      'the segments to spread over both',
      20_000,
    );
    positions.push(...(await appendTicks(db, 100)));
    await waitFor(() => appliedOnce(db, positions), 'every event applied once', 30_000);

    // The status (GET /admin/projections, /metrics) shows each segment, its owner and lag.
    const [status] = await getProjectionStatuses(db.pool, [logProjection('seg_log')]);
    expect(status!.segments).toHaveLength(SEGMENTS);
    expect(status!.lagEvents).toBe(0);
    expect(status!.state).toBe('running');
    const shown = status!.segments!.map((segment) => segment.owner).sort();
    expect(shown).toEqual([
      ...Array<string>(3).fill('seg-runner-first'),
      ...Array<string>(3).fill('seg-runner-second'),
    ]);
    expect(status!.segments!.every((segment) => segment.lagEvents === 0)).toBe(true);
  });
});
