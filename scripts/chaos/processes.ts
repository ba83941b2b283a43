import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ProcessExit {
  name: string;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
  at: string;
}

/**
 * One system process (API, projector, worker) run as `node --import tsx <entry>` with its own env, its
 * output appended to a log file. Knows whether an exit was asked for (kill/stop) or not.
 */
export class ManagedProcess {
  child: ChildProcess | undefined;
  private expectingExit = false;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly onExit: (exit: ProcessExit) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  start(): void {
    if (this.running) return;
    this.starts += 1;
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n=== ${new Date().toISOString()} start #${this.starts} of ${this.name}\n`);
    // `node --import tsx`, not the tsx CLI: the CLI runs the program in a child process, so
    // a SIGKILL would hit the wrapper and leave the real process running.
    const child = spawn(process.execPath, ['--import', 'tsx', this.entry], {
      cwd: REPO_ROOT,
      env: this.env,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.expectingExit = false;
    this.child = child;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.onExit({
          name: this.name,
          pid: child.pid,
          code,
          signal,
          expected: this.expectingExit,
          at: new Date().toISOString(),
        });
        resolve();
      });
    });
  }

  /** SIGKILL: no shutdown hooks, in-flight activities just vanish. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
