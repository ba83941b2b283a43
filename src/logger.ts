import pino, { type Logger } from 'pino';

/** One structured logger for the process; components take children with their name. */
export function createLogger(level: string, name = 'sagaflow'): Logger {
  return pino({ name, level });
}

export type { Logger };
