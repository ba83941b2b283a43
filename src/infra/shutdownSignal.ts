const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Resolves with the first SIGINT or SIGTERM. The listeners stay installed: Ctrl-C in a
 * terminal reaches the process twice (from the terminal, and relayed by `tsx`/`npm`), and
 * with no listener left the second one would kill the process halfway through an orderly
 * shutdown.
 */
export function untilShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => resolve(signal));
  });
}
