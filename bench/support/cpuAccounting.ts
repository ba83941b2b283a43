import fs from 'node:fs';

/**
 * CPU time of the processes a saga run involves, read from /proc (Linux only). Wall-clock
 * throughput on a small shared machine swings from run to run; CPU milliseconds per saga,
 * split by process, say where the work goes.
 */
export interface CpuTotals {
  /** This process: the bench driver, the Temporal client and the worker (activities). */
  worker: number;
  /** The Temporal dev server (`temporal` processes). */
  temporal: number;
  /** Every Postgres process on the machine (the server's backends). */
  postgres: number;
}

/** Seconds used so far: this process's, and every Temporal and Postgres process's by pid. */
export interface CpuSample {
  worker: number;
  others: Map<string, { role: 'temporal' | 'postgres'; seconds: number }>;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux Node supports

/** Whether this machine exposes per-process CPU times (the figures are left out otherwise). */
export function cpuAccountingAvailable(): boolean {
  return fs.existsSync(`/proc/${process.pid}/stat`);
}

/** User + system seconds of one process, or undefined when it is gone or unreadable. */
function processSeconds(pid: string): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function commandName(pid: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function sampleCpu(): CpuSample {
  const own = process.cpuUsage();
  const others: CpuSample['others'] = new Map();
  if (cpuAccountingAvailable()) {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const role = commandName(pid);
      if (role !== 'temporal' && role !== 'postgres') continue;
      const seconds = processSeconds(pid);
      if (seconds !== undefined) others.set(pid, { role, seconds });
    }
  }
  return { worker: (own.user + own.system) / 1e6, others };
}

/**
 * CPU seconds per unit of work between two samples, by role. Compared pid by pid, so a
 * process that exits in between (a Postgres backend) does not make a figure negative;
 * what it used before exiting is lost, which undercounts slightly.
 */
export function cpuPerUnit(before: CpuSample, after: CpuSample, units: number): CpuTotals {
  const totals: CpuTotals = {
    worker: (after.worker - before.worker) / units,
    temporal: 0,
    postgres: 0,
  };
  for (const [pid, { role, seconds }] of after.others) {
    totals[role] += (seconds - (before.others.get(pid)?.seconds ?? 0)) / units;
  }
  return totals;
}

/**
 * Waits (up to `maxMs`) until the processes are idle. The Temporal server finishes some
 * work after a workflow's result is in (visibility updates, clean-up); waiting lets that
 * work count for the batch that caused it, not the next one.
 */
export async function settle(maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = sampleCpu();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = sampleCpu();
    const busy = cpuPerUnit(last, now, 1);
    last = now;
    if (busy.worker + busy.temporal + busy.postgres < 0.025) return; // under 10% of a core
  }
}

/**
 * CPU seconds used so far by this process (`self`) and by every process of the machine,
 * summed by command name (`nats-server`, `postgres`, ...). For tools that compare two
 * readings taken around one run (processes that exit in between are lost, as above).
 */
export function processCpuSeconds(): Record<string, number> {
  const own = process.cpuUsage();
  const totals: Record<string, number> = { self: (own.user + own.system) / 1e6 };
  if (!cpuAccountingAvailable()) return totals;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
    const name = commandName(pid);
    const seconds = processSeconds(pid);
    if (name !== undefined && seconds !== undefined) totals[name] = (totals[name] ?? 0) + seconds;
  }
  return totals;
}
