/**
 * `npm run chaos [-- --sagas 500 --concurrency 16 --workers 2 --seed 42 ...]`
 * Runs the chaos harness against a fresh database and prints/writes its report.
 * Flags map to ChaosOptions (also settable as CHAOS_SAGAS, CHAOS_CONCURRENCY, ...).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_OPTIONS, runChaos, type ChaosOptions, type ChaosReport } from './harness';

function parseArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Partial<ChaosOptions> & { out: string } {
  const options: Record<string, unknown> = {};
  let out = env.CHAOS_REPORT ?? 'chaos-report.json';
  const setOption = (name: string, raw: string) => {
    if (name === 'out') {
      out = raw;
      return;
    }
    const key = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const defaults = DEFAULT_OPTIONS as Record<string, unknown>;
    if (key === 'databaseUrl' || key === 'temporalAddress' || key === 'runDir') options[key] = raw;
    else if (!(key in defaults)) throw new Error(`unknown option --${name}`);
    else if (typeof defaults[key] === 'boolean') options[key] = raw !== 'false' && raw !== '0';
    else if (typeof defaults[key] === 'number') {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
      options[key] = value;
    } else options[key] = raw;
  };
  for (const [envName, value] of Object.entries(env)) {
    if (envName.startsWith('CHAOS_') && envName !== 'CHAOS_REPORT' && value)
      setOption(envName.slice(6).toLowerCase().replace(/_/g, '-'), value);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) setOption(name, inline);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--'))
      setOption(name, argv[++i]!);
    else setOption(name, 'true');
  }
  return { ...(options as Partial<ChaosOptions>), out };
}

export function summarize(report: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `Chaos run ${report.runId} (seed ${report.seed}): ${report.ok ? 'PASS' : 'FAIL'} in ${report.durationSeconds}s`,
  );
  lines.push(
    `  phases: ${Object.entries(report.phaseSeconds)
      .map(([k, v]) => `${k} ${v}s`)
      .join(', ')}`,
  );
  lines.push('Faults:');
  for (const [k, v] of Object.entries(report.faults)) lines.push(`  ${k}: ${v}`);
  lines.push(`HTTP: ${JSON.stringify(report.http)}`);
  lines.push('Figures:');
  for (const [k, v] of Object.entries(report.figures)) lines.push(`  ${k}: ${v}`);
  lines.push('Invariants:');
  for (const c of report.checks) lines.push(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}`);
  if (report.error) lines.push(`Error: ${report.error}`);
  lines.push(`Process logs: ${report.runDir}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { out, ...options } = parseArgs(process.argv.slice(2), process.env);
  const report = await runChaos(options);
  const file = path.resolve(out);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${summarize(report)}\nReport written to ${file}`);
  process.exit(report.ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  });
}
