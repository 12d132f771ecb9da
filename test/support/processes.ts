/** Sentinel components as real child processes, their output kept for the tests to read. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { join } from 'node:path';
import { projectRoot } from '../../src/paths';
import { eventually } from './harness';
import { testSecrets } from './secrets';

export interface SentinelProcess {
  name: string;
  child: ChildProcess;
  /** Everything it wrote, stdout and stderr. */
  output(): string;
  /** Waits until its output contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Runs `entry` (a path under src/) with tsx, as `npm run …` would. */
export function startProcess(name: string, entry: string, env: Record<string, string>): SentinelProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, entry)], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    output: () => out,
    async waitFor(text, timeoutMs = 60_000) {
      await eventually(`${name} to say "${text}"`, () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${out.slice(-2000)}`);
        return out.includes(text);
      }, timeoutMs);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * `sentinel incidents …` against the test stack, as operator U0ADMIN01 (SENTINEL_OPERATOR), with
 * the test keys; its exit code and output, whether it succeeded or not.
 */
export async function incidentsCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stack = inject('stack');
  try {
    const r = await promisify(execFile)(process.execPath, [join(projectRoot, 'bin', 'sentinel.js'), 'incidents', ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporalAddress, NATS_URL: stack.natsUrl, SENTINEL_OPERATOR: 'U0ADMIN01', ...testSecrets() },
    });
    return { code: 0, ...r };
  } catch (e) {
    return e as { code: number; stdout: string; stderr: string };
  }
}
