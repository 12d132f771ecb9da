/**
 * Sentinel's components as real child processes (`node --import tsx src/…/main.ts`, as `npm run …`
 * starts them), each in its own process group so that a SIGKILL takes all of it, with its output
 * appended to a log file and watched for the line that says it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/paths';

export interface ComponentSpec {
  /** e.g. `detector`, `worker-1`. */
  name: string;
  /** Entry point under the project, e.g. `src/detector/main.ts`. */
  entry: string;
  env: Record<string, string>;
  /** Text in its output that says it is ready (a log message). */
  ready: string;
}

/** Every process the run started and has not seen exit: killed on the way out, whatever happens. */
const live = new Set<ChildProcess>();

/** Has killAllComponents() take this process's group too, until it exits. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** SIGKILLs every process group the run started (synchronous: safe in an 'exit' handler). */
export function killAllComponents(): void {
  for (const c of live) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export class Component {
  private child: ChildProcess | undefined;
  private log: WriteStream;
  /** Output since the current process started (the tail is enough to find ready lines and errors). */
  private recent = '';
  private exited: Promise<void> = Promise.resolve();
  /** Starts of this component (1 after the first start). */
  starts = 0;

  constructor(
    readonly spec: ComponentSpec,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get exitCode(): number | null {
    return this.child?.exitCode ?? null;
  }

  /** What the current process has written so far. */
  output(): string {
    return this.recent;
  }

  /** Starts the process (again); resolves once it printed its ready line, with the ms that took. */
  async start(timeoutMs = 120_000): Promise<number> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const started = Date.now();
    this.starts += 1;
    this.recent = '';
    this.log.write(`\n----- chaos: start #${this.starts} of ${this.name} at ${new Date().toISOString()} -----\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, this.spec.entry)], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.spec.env },
    });
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.log.write(`----- chaos: ${this.name} (pid ${child.pid}) exited with ${signal ?? code} at ${new Date().toISOString()} -----\n`);
        resolve();
      }),
    );
    const take = (d: Buffer) => {
      this.log.write(d);
      this.recent += d.toString('utf8');
      if (this.recent.length > 2_000_000) this.recent = this.recent.slice(-1_000_000);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const deadline = Date.now() + timeoutMs;
    while (!this.recent.includes(this.spec.ready)) {
      if (!this.running) throw new Error(`${this.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${this.recent.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not say "${this.spec.ready}" within ${timeoutMs / 1000}s; log ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - started;
  }

  /** Sends `signal` to the whole process group and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    try {
      process.kill(-child.pid!, signal);
    } catch {
      child.kill(signal);
    }
    await this.exited;
  }

  /** SIGTERM (a clean shutdown), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => void this.kill('SIGKILL'), graceMs);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  /** Waits until the process has exited on its own (or `timeoutMs` passed); true when it did. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.running) return true;
    return Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}
