/**
 * What naming the hot statements saves: appends + stream reads through the event store as
 * shipped (named, prepared once per connection) and through a pool that strips the names
 * (parsed and planned on every call). Rounds alternate; CPU per call is read from /proc.
 *
 *   DATABASE_URL=postgres://... npx tsx bench/profile/namedStatements.ts [calls]
 *
 * Not a suite of `npm run bench`: a tool for whoever tunes the SQL.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool, migrate, PostgresEventStore } from '../../src/eventstore';
import { runConcurrently } from '../support/concurrency';
import { cpuPerUnit, sampleCpu, settle } from '../support/cpuAccounting';
import { DatabaseFactory } from '../support/database';

const CONCURRENCY = 8;

/** The same pool, but every statement goes unnamed. */
function unnamed(pool: Pool): Pool {
  return new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
      return (config: unknown, values?: unknown[]) =>
        typeof config === 'object' && config !== null && 'name' in config
          ? target.query({
              ...(config as unknown as { text: string; values?: unknown[] }),
              name: undefined,
            })
          : target.query(config as string, values);
    },
  });
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('set DATABASE_URL');
  const calls = Number(process.argv[2] ?? 3000);
  const databases = new DatabaseFactory(serverUrl);
  try {
    const { url } = await databases.create('named_statements');
    await migrate(url);
    const pool = createPool(url, { max: CONCURRENCY });
    const stores = {
      named: new PostgresEventStore(pool, undefined, {}, { personalData: false }),
      unnamed: new PostgresEventStore(unnamed(pool), undefined, {}, { personalData: false }),
    };
    for (let round = 0; round < 4; round++) {
      const order =
        round % 2 === 0 ? (['named', 'unnamed'] as const) : (['unnamed', 'named'] as const);
      for (const variant of order) {
        const store = stores[variant];
        await settle();
        const before = sampleCpu();
        const run = await runConcurrently({
          label: `${variant}, round ${round + 1}`,
          calls,
          concurrency: CONCURRENCY,
          call: async () => {
            const streamId = `order-${randomUUID()}`;
            await store.append(
              streamId,
              [{ eventId: randomUUID(), type: 'ItemAdded', data: { sku: 'SKU-1', quantity: 1 } }],
              { expectedVersion: 0 },
            );
            await store.readStream(streamId, { sealedPersonalData: true });
          },
        });
        await settle();
        const cpu = cpuPerUnit(before, sampleCpu(), calls);
        console.log(
          `round ${round + 1} ${variant.padEnd(8)} ${run.callsPerSecond.toFixed(0).padStart(5)} append+read/s, ` +
            `CPU µs per append+read: node ${(cpu.worker * 1e6).toFixed(0)}, postgres ${(cpu.postgres * 1e6).toFixed(0)}`,
        );
      }
    }
    await pool.end();
  } finally {
    await databases.dropAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
