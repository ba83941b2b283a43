/**
 * `npm run projections -- status` prints every projection's state and lag;
 * `npm run projections -- rebuild <name>` rebuilds one into a fresh generation with a
 * progress bar, while readers keep using the current one until the switch.
 */
import { SingleBar, Presets } from 'cli-progress';
import { ConfigError, loadConfig } from '../config';
import { createPool } from '../eventstore';
import { ALL_PROJECTIONS } from './all';
import { rebuildProjection } from './rebuild';
import { getProjectionStatuses } from './status';

function usage(): string {
  return [
    'usage: npm run projections -- <command>',
    '  status            state, checkpoint and lag of every projection',
    '  rebuild <name>    rebuild one projection from position 0 and switch readers over',
    '',
    `projections: ${ALL_PROJECTIONS.map((p) => p.name).join(', ')}`,
  ].join('\n');
}

function databaseUrl(): string {
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/sagaflow',
    );
  }
  return config.DATABASE_URL;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, name] = argv;
  if (command !== 'status' && command !== 'rebuild') {
    console.error(usage());
    return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
  }
  if (command === 'rebuild' && !name) {
    console.error(usage());
    return 2;
  }
  const pool = createPool(databaseUrl(), { max: 3, applicationName: 'sagaflow-projections-cli' });
  try {
    if (command === 'status') {
      const statuses = await getProjectionStatuses(pool);
      console.table(
        statuses.map((s) => ({
          name: s.name,
          version: s.version,
          generation: s.generation,
          state: s.state,
          checkpoint: s.checkpoint,
          lagEvents: s.lagEvents,
          lagSeconds: Number(s.lagSeconds.toFixed(1)),
          eventsPerSecond: Number(s.eventsPerSecond.toFixed(1)),
          error: s.error ? `at ${s.error.position}: ${s.error.message}` : '',
        })),
      );
      return 0;
    }
    const bar = new SingleBar(
      {
        format: `${name} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    let started = false;
    const result = await rebuildProjection(pool, name!, (progress) => {
      const payload = { rate: Math.round(progress.eventsPerSecond).toLocaleString('en-US') };
      if (!started) {
        bar.start(Math.max(progress.total, 1), progress.done, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(progress.total, 1));
        bar.update(progress.done, payload);
      }
    });
    bar.stop();
    console.log(
      `${result.projection}: generation ${result.generation} is live (${result.events} events in ${result.seconds.toFixed(1)} s)`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
