import pino, { type Logger, type TransportSingleOptions } from 'pino';

/**
 * Human-readable lines for a developer at a terminal; JSON (one object a line) everywhere
 * else, for log shippers.
 */
export function terminalTransport(): TransportSingleOptions | undefined {
  if (!process.stdout.isTTY) return undefined;
  return {
    target: 'pino-pretty',
    options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
  };
}

/** One structured logger for the process; components take children with their name. */
export function createLogger(level: string, name = 'sagaflow'): Logger {
  const transport = terminalTransport();
  return pino({ name, level, ...(transport && { transport }) });
}

export type { Logger };
