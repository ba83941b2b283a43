import { ConfigError } from '../config';
import { untilShutdownSignal } from '../infra/shutdownSignal';
import type { Logger } from '../logger';
import type { RunningProcess } from './startProcess';

/** How long an orderly stop may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 20_000;

/**
 * Runs until SIGINT/SIGTERM or until a component ends on its own, then stops everything in
 * reverse order. Resolves with the exit code: 1 when a component failed.
 */
export async function runUntilStopped(running: RunningProcess, logger: Logger): Promise<number> {
  const outcome = await Promise.race([
    untilShutdownSignal().then((signal) => ({ signal, failure: undefined })),
    running.ended.then(
      () => ({ signal: undefined, failure: undefined }),
      (failure: unknown) => ({ signal: undefined, failure: failure ?? 'failed' }),
    ),
  ]);
  logger.info(outcome.signal ? { signal: outcome.signal } : {}, 'shutting down');
  const force = setTimeout(() => {
    logger.error('orderly shutdown timed out');
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  force.unref();
  await running.stop();
  clearTimeout(force);
  logger.info('stopped');
  return outcome.failure === undefined ? 0 : 1;
}

/** Runs an entry point's main: exits with its code; a ConfigError prints just its message. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        error instanceof ConfigError
          ? `${error.message}\n`
          : `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
