/**
 * One projector process of the segment benchmark: a ProjectionRunner over a copy of
 * account_balance named NAME, split into SEGMENTS. Prints `ready`, starts on a line on
 * stdin, and on SIGTERM stops and prints its CPU time since the start as JSON.
 */
import { createInterface } from 'node:readline';
import { createPool, PostgresEventStore } from '../../src/eventstore';
import { accountBalanceProjection, ProjectionRunner } from '../../src/projections';

async function main(): Promise<void> {
  const [url, name, segments] = process.argv.slice(2);
  const pool = createPool(url!, { max: 4, applicationName: `bench-${name}` });
  const runner = new ProjectionRunner({
    pool,
    eventStore: new PostgresEventStore(pool),
    projections: [{ ...accountBalanceProjection, name: name!, segments: Number(segments) }],
    batchSize: 1000,
    pollIntervalMs: 200,
  });
  let started = process.cpuUsage();
  process.on('SIGTERM', () => {
    const cpu = process.cpuUsage(started);
    void runner
      .stop()
      .then(() => pool.end())
      .then(() => {
        console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000 }));
        process.exit(0);
      });
  });
  console.log('ready');
  const lines = createInterface({ input: process.stdin });
  for await (const _line of lines) {
    started = process.cpuUsage();
    await runner.start();
    break;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
