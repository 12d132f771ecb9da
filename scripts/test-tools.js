#!/usr/bin/env node
/**
 * The tools the deployment and browser tests need beyond the dev stack's servers, installed by the
 * project itself so that a clean clone (and CI) gets them:
 *
 * - promtool, taken out of Debian's `prometheus` package (`apt-get download` + `dpkg-deb -x`) into
 *   .sentinel/tools/ — nothing is installed system-wide, and no Prometheus server runs;
 * - Chromium for the Web UI test: Debian's `chromium` at /usr/bin/chromium, installed with apt-get
 *   when it is missing (it needs a few dozen system libraries, so it cannot live in a project
 *   folder); SENTINEL_CHROMIUM points at another build.
 *
 * Both are idempotent and safe to call from parallel processes (a lock directory, as the dev stack's
 * toolchain does). `node scripts/test-tools.js [promtool] [chromium]` installs them ahead of a test run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Same as src/paths.ts's sentinelHome. */
export const sentinelHome = process.env.SENTINEL_HOME ?? join(root, '.sentinel');

const say = (line) => process.stderr.write(`[test tools] ${line}\n`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** Runs `fn` holding a lock directory (mkdir is atomic), waiting up to ten minutes for another holder. */
function withLock(dir, fn) {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'install.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}; remove it if no install is running`);
      spawnSync('sleep', ['0.5']);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** apt-get with `args`; when the package lists are missing or stale, `apt-get update` once and again. */
function aptGet(args, options = {}) {
  if (!which('apt-get')) throw new Error(`apt-get is not available: install ${args.at(-1)} yourself (Debian's package of that name)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const attempt = () => spawnSync('apt-get', args, { encoding: 'utf8', env, maxBuffer: 64 << 20, ...options });
  let r = attempt();
  if (r.status !== 0) {
    say('apt-get failed; refreshing the package lists (apt-get update) and trying again');
    spawnSync('apt-get', ['update', '-qq'], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
    r = attempt();
  }
  if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`);
}

/** promtool from Debian's prometheus package, unpacked into `home`/tools; its path. SENTINEL_PROMTOOL overrides. */
export function ensurePromtool(home = sentinelHome) {
  if (process.env.SENTINEL_PROMTOOL) return process.env.SENTINEL_PROMTOOL;
  const tools = join(home, 'tools');
  const promtool = join(tools, 'promtool');
  if (existsSync(promtool)) return promtool;
  return withLock(tools, () => {
    if (existsSync(promtool)) return promtool;
    const work = mkdtempSync(join(tmpdir(), 'sentinel-prometheus-'));
    try {
      say(`downloading Debian's prometheus package to unpack promtool into ${tools} (first run only)`);
      aptGet(['download', '-qq', 'prometheus'], { cwd: work });
      const deb = readdirSync(work).find((f) => /^prometheus_.*\.deb$/.test(f));
      if (!deb) throw new Error(`apt-get download prometheus left no .deb in ${work}`);
      execFileSync('dpkg-deb', ['-x', join(work, deb), join(work, 'root')]);
      const unpacked = join(work, 'root', 'usr', 'bin', 'promtool');
      if (!existsSync(unpacked)) throw new Error(`${deb} holds no usr/bin/promtool`);
      // Copied under a temporary name and renamed last, so a half-copied file never counts as installed.
      copyFileSync(unpacked, `${promtool}.partial`);
      chmodSync(`${promtool}.partial`, 0o755);
      execFileSync('mv', [`${promtool}.partial`, promtool]);
      return promtool;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** Debian's Chromium (installed with apt-get when missing); its path. SENTINEL_CHROMIUM overrides. */
export function ensureChromium() {
  if (process.env.SENTINEL_CHROMIUM) return process.env.SENTINEL_CHROMIUM;
  const chromium = '/usr/bin/chromium';
  if (existsSync(chromium)) return chromium;
  return withLock(join(sentinelHome, 'tools'), () => {
    if (existsSync(chromium)) return chromium;
    if (process.getuid?.() !== 0) throw new Error(`${chromium} is missing: run "sudo apt-get install chromium" (or set SENTINEL_CHROMIUM to a Chromium binary)`);
    say('installing Debian\'s chromium with apt-get (first run only, a minute or two)');
    aptGet(['install', '-y', '-qq', '--no-install-recommends', 'chromium']);
    if (!existsSync(chromium)) throw new Error(`apt-get installed chromium, but ${chromium} is not there`);
    return chromium;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ['promtool', 'chromium'];
  for (const tool of wanted) {
    if (tool === 'promtool') say(`promtool: ${ensurePromtool()}`);
    else if (tool === 'chromium') say(`chromium: ${ensureChromium()}`);
    else throw new Error(`unknown tool ${JSON.stringify(tool)}; one of: promtool, chromium`);
  }
}
