/**
 * `npm run bench [-- --only <suite>]`: runs the benchmark suites against fresh databases,
 * prints a table and merges the entries into bench/results/latest.json.
 *
 * Database: DATABASE_URL's server when set, else an embedded Postgres in .data/bench-postgres.
 * BENCH_SCALE (default 1) multiplies every call count.
 */
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/infra/embeddedPostgres';
import { archiveSuite } from './archive.bench';
import { eventStoreSuite } from './eventStore.bench';
import { httpSuite } from './http.bench';
import { integrationSuite } from './integration.bench';
import { latencySuite } from './latency.bench';
import { projectionsSuite } from './projections.bench';
import { sagasSuite } from './sagas.bench';
import { mergeResults, RESULTS_FILE } from './results';
import { DatabaseFactory, serverVersion } from './support/database';
import { round } from './support/stats';
import type { BenchContext, BenchEntries, BenchSuite } from './support/suite';
import { renderTable } from './support/table';

/** Every suite, in run order. A new suite is one more line here. */
const SUITES: readonly BenchSuite[] = [
  eventStoreSuite,
  sagasSuite,
  latencySuite,
  projectionsSuite,
  httpSuite,
  integrationSuite,
  archiveSuite,
];

const EMBEDDED_PORT = 54330;
const EMBEDDED_DATA_DIR = path.join(__dirname, '..', '.data', 'bench-postgres');

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function usage(): string {
  return [
    'usage: npm run bench [-- --only <suite>]',
    '',
    'suites:',
    ...SUITES.map((suite) => `  ${suite.name.padEnd(14)} ${suite.description}`),
    '',
    'env: DATABASE_URL (else an embedded Postgres), BENCH_SCALE (call count factor, default 1)',
  ].join('\n');
}

function parseArgs(argv: readonly string[]): { only?: string } {
  let only: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if (arg === '--only') {
      only = argv[++index];
      if (!only) throw new Error('--only needs a suite name');
    } else if (arg.startsWith('--only=')) {
      only = arg.slice('--only='.length);
    } else {
      throw new Error(`unknown argument ${arg}\n${usage()}`);
    }
  }
  return { only };
}

function parseScale(): number {
  const raw = process.env.BENCH_SCALE;
  if (raw === undefined || raw === '') return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`BENCH_SCALE must be a positive number, got ${raw}`);
  }
  return scale;
}

function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return round(value).toLocaleString('en-US', { maximumFractionDigits: 3 });
}

function formatLatency(p50: number | undefined, p99: number | undefined): string {
  return p50 === undefined ? '-' : `${formatNumber(p50)} / ${formatNumber(p99)}`;
}

function printTable(entries: BenchEntries): void {
  const rows = Object.entries(entries).map(([name, entry]) => [
    name,
    formatNumber(entry.ours),
    formatNumber(entry.baseline),
    entry.ratio.toFixed(2),
    entry.unit,
    formatLatency(entry.oursP50Ms, entry.oursP99Ms),
    formatLatency(entry.baselineP50Ms, entry.baselineP99Ms),
    entry.goal === undefined
      ? ''
      : `≥ ${entry.goal.toFixed(1)} ${entry.ratio >= entry.goal ? 'ok' : 'MISSED'}`,
  ]);
  console.log(
    renderTable(
      [
        'entry',
        'ours',
        'baseline',
        'ratio',
        'unit',
        'ours p50/p99 ms',
        'baseline p50/p99 ms',
        'goal',
      ],
      rows,
    ),
  );
}

async function main(): Promise<void> {
  const { only } = parseArgs(process.argv.slice(2));
  const suites = only ? SUITES.filter((suite) => suite.name === only) : SUITES;
  if (suites.length === 0) throw new Error(`no suite named ${only}\n${usage()}`);
  const scale = parseScale();

  let embedded: EmbeddedPostgresHandle | undefined;
  let databases: DatabaseFactory | undefined;
  let cleaningUp: Promise<void> | undefined;
  const cleanUp = (): Promise<void> =>
    (cleaningUp ??= (async () => {
      try {
        await databases?.dropAll();
      } finally {
        await embedded?.stop();
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: dropping the benchmark databases`);
    cleanUp().then(
      () => process.exit(130),
      () => process.exit(130),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    let serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) {
      log(
        `starting embedded Postgres (${path.relative(process.cwd(), EMBEDDED_DATA_DIR)}, port ${EMBEDDED_PORT})`,
      );
      try {
        embedded = await startEmbeddedPostgres({
          dataDir: EMBEDDED_DATA_DIR,
          port: EMBEDDED_PORT,
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `could not start the embedded Postgres (${reason}); ` +
            'set DATABASE_URL to benchmark against a running server',
          { cause: error },
        );
      }
      serverUrl = embedded.databaseUrl;
    }
    databases = new DatabaseFactory(serverUrl);
    log(
      `Postgres ${await serverVersion(serverUrl)}, Node ${process.version}, ` +
        `${os.cpus().length} CPUs, scale ${scale}`,
    );

    const context: BenchContext = {
      databases,
      scale,
      scaled: (base, min = 1) => Math.max(min, Math.round(base * scale)),
      log,
    };
    const all: BenchEntries = {};
    for (const suite of suites) {
      log(`\n== ${suite.name}: ${suite.description}`);
      const started = performance.now();
      const entries = await suite.run(context);
      await mergeResults(suite.name, entries);
      Object.assign(all, entries);
      log(`== ${suite.name} done in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    }
    console.log('');
    printTable(all);
    log(`\nmerged into ${path.relative(process.cwd(), RESULTS_FILE)}`);
  } finally {
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
