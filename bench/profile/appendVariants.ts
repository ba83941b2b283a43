/**
 * Where does an append's time go? Runs the same appends through variants of our
 * append_to_stream function, each with one part taken out, in a fresh database.
 *
 *   DATABASE_URL=postgres://... npx tsx bench/profile/appendVariants.ts
 *
 * Not a suite of `npm run bench`: a tool for whoever tunes the SQL.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createPool, migrate } from '../../src/eventstore';
import { MIGRATIONS_DIR } from '../../src/eventstore/migrate';
import { runConcurrently } from '../support/concurrency';
import { DatabaseFactory } from '../support/database';
import { summarizeLatencies } from '../support/stats';

const CONCURRENCY = 16;

/** The newest definition of append_to_stream: the last migration whose up part has one. */
function originalFunctionSql(): string {
  const definitions = fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(MIGRATIONS_DIR, name), 'utf8');
      const up = sql.slice(0, sql.indexOf('-- Down Migration'));
      const start = up.search(/CREATE (OR REPLACE )?FUNCTION append_to_stream\(/);
      return start < 0 ? undefined : up.slice(start, up.indexOf('$$;', start) + 3);
    })
    .filter((definition): definition is string => definition !== undefined);
  const newest = definitions[definitions.length - 1];
  if (!newest) throw new Error('no migration defines append_to_stream');
  return newest.replace(/^CREATE FUNCTION/, 'CREATE OR REPLACE FUNCTION');
}

interface Variant {
  name: string;
  edit: (sql: string) => string;
}

function remove(fragment: string | RegExp): (sql: string) => string {
  return (sql) => {
    const edited = sql.replace(fragment, '');
    if (edited === sql) throw new Error(`fragment not found: ${String(fragment)}`);
    return edited;
  };
}

const VARIANTS: Variant[] = [
  { name: 'as shipped', edit: (sql) => sql },
  { name: 'no pg_notify', edit: remove("PERFORM pg_notify('sagaflow_events', '');") },
  {
    name: 'no advisory lock',
    edit: remove('PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));'),
  },
  {
    name: 'no duplicate SELECT',
    edit: remove(/-- Is this an idempotent retry[\s\S]*?END IF;\n/),
  },
  {
    name: 'no notify, no lock',
    edit: (sql) =>
      remove('PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));')(
        remove("PERFORM pg_notify('sagaflow_events', '');")(sql),
      ),
  },
];

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('set DATABASE_URL');
  const calls = Number(process.env.PROFILE_CALLS ?? 2000);
  const databases = new DatabaseFactory(serverUrl);
  try {
    const { url } = await databases.create('profile');
    await migrate(url);
    const pool = createPool(url, { max: CONCURRENCY, applicationName: 'bench-profile' });
    const original = originalFunctionSql();
    const functionNames = VARIANTS.map((variant, index) => {
      const name = index === 0 ? 'append_to_stream' : `append_variant_${index}`;
      return {
        variant,
        name,
        sql: variant.edit(original).replace('append_to_stream(', `${name}(`),
      };
    });
    for (const { name, sql } of functionNames)
      if (name !== 'append_to_stream') await pool.query(sql);

    for (const eventsPerCall of [1, 10]) {
      for (const round of [0, 1]) {
        const order = round === 0 ? functionNames : [...functionNames].reverse();
        for (const { variant, name } of order) {
          const result = await runConcurrently({
            label: `${variant.name} ×${eventsPerCall}`,
            calls,
            concurrency: CONCURRENCY,
            call: () => {
              const ids = Array.from({ length: eventsPerCall }, () => randomUUID());
              return pool.query(
                `SELECT * FROM ${name}($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])`,
                [
                  `order-${randomUUID()}`,
                  'order',
                  'no_stream',
                  ids,
                  ids.map(() => 'ItemAdded'),
                  ids.map(() => 1),
                  ids.map((id) => JSON.stringify({ id, sku: 'SKU-1', quantity: 2 })),
                  ids.map(() => JSON.stringify({ correlation_id: randomUUID() })),
                ],
              );
            },
          });
          if (round === 0) continue; // the first round warms up
          const summary = summarizeLatencies(result.latenciesMs);
          console.log(
            `×${String(eventsPerCall).padEnd(3)} ${variant.name.padEnd(20)} ` +
              `${Math.round(result.callsPerSecond * eventsPerCall)
                .toString()
                .padStart(
                  7,
                )} events/s  p50 ${summary.p50Ms.toFixed(2)} ms  p99 ${summary.p99Ms.toFixed(2)} ms`,
          );
        }
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
