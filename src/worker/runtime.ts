import { IllegalStateError } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

const SDK_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/**
 * The Temporal Runtime, installed once per process before any Worker: SDK log level, and
 * the SDK's own Prometheus metrics (task latencies, poll rates, sticky cache) on
 * `metricsPort` (0 turns them off).
 */
export function installTemporalRuntime(options: { logLevel: string; metricsPort: number }): void {
  if (installed) return;
  try {
    install(options);
  } catch (error) {
    // Installed before by its owner (a test file's setup): the first install stands.
    if (!(error instanceof IllegalStateError)) throw error;
  }
  installed = true;
}

function install(options: { logLevel: string; metricsPort: number }): void {
  Runtime.install({
    logger: new DefaultLogger(SDK_LEVELS[options.logLevel] ?? 'INFO'),
    ...(options.metricsPort > 0 && {
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${options.metricsPort}` } },
      },
    }),
    // The process decides when to stop (graceful shutdown in main/worker entry points).
    shutdownSignals: [],
  });
}
