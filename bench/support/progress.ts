/** A single self-overwriting status line on stderr, for runs that take more than a moment. */
export interface Progress {
  tick(count?: number): void;
  done(): void;
}

const REDRAW_EVERY_MS = 200;
/** Without a terminal there is no line to overwrite: print a plain line now and then. */
const PLAIN_LINE_EVERY_MS = 5_000;

export function createProgress(label: string, total: number): Progress {
  const interactive = Boolean(process.stderr.isTTY);
  const started = performance.now();
  let completed = 0;
  let lastDraw = started;
  let drawn = false;

  const line = (): string => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(completed / seconds) : 0;
    const percent = total > 0 ? Math.floor((completed / total) * 100) : 100;
    return `${label}: ${completed}/${total} (${percent}%) ${rate}/s ${seconds.toFixed(1)}s`;
  };

  return {
    tick(count = 1) {
      completed += count;
      const now = performance.now();
      if (interactive && now - lastDraw >= REDRAW_EVERY_MS) {
        process.stderr.write(`\r\x1b[2K${line()}`);
        lastDraw = now;
        drawn = true;
      } else if (!interactive && now - lastDraw >= PLAIN_LINE_EVERY_MS) {
        process.stderr.write(`${line()}\n`);
        lastDraw = now;
      }
    },
    done() {
      if (interactive && drawn) process.stderr.write('\r\x1b[2K');
    },
  };
}
