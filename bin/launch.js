/**
 * Runs one of Sentinel's entry points in this process: the compiled build (dist/) when it is
 * current, else the TypeScript sources through tsx, so a checkout works with or without a build.
 *
 * SENTINEL_RUN picks explicitly: `dist` runs only the build (a missing or stale one is an error,
 * and tsx is never loaded: use it in production), `src` always runs the sources through tsx.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distStatus } from './dist-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Entry points by name: `npm run <name>` (and `cli`, the `sentinel` command), as paths under src/ and dist/ without extension. */
export const components = {
  cli: 'cli/main',
  stack: 'stack/main',
  'slack-sim': 'slack-sim/main',
  worker: 'worker/main',
  'worker:kms': 'worker/kms-main',
  detector: 'detector/main',
  correlator: 'correlator/main',
  bridge: 'bridge/main',
  'codec-server': 'codec-server/main',
  demo: 'demo/main',
};

/** Which code `name` would run now, and why: `{ mode: 'dist' | 'src', file, reason? }`, or `{ error }`. */
export function resolveComponent(name, env = process.env) {
  const entry = Object.hasOwn(components, name) ? components[name] : undefined;
  if (!entry) return { error: `unknown component ${JSON.stringify(name)}; one of: ${Object.keys(components).join(', ')}` };
  const want = env.SENTINEL_RUN || 'auto';
  if (!['auto', 'dist', 'src'].includes(want)) return { error: `SENTINEL_RUN is ${JSON.stringify(want)}; use dist, src, or leave it unset` };
  if (want === 'src') return { mode: 'src', file: join(root, 'src', `${entry}.ts`), reason: 'SENTINEL_RUN=src' };
  const status = distStatus(root);
  if (status.current) return { mode: 'dist', file: join(root, 'dist', `${entry}.js`) };
  if (want === 'dist') return { error: `SENTINEL_RUN=dist, but ${status.reason}: run "npm run build"` };
  return { mode: 'src', file: join(root, 'src', `${entry}.ts`), reason: status.reason };
}

/** Imports the component's entry point; it runs as this process (signals, exit code, stdio). */
export async function launch(name) {
  const r = resolveComponent(name);
  if (r.error) {
    process.stderr.write(`sentinel: ${r.error}\n`);
    process.exit(2);
  }
  if (r.mode === 'src') {
    // Only here: a production start from dist/ never loads tsx.
    const { register } = await import('tsx/esm/api');
    register();
  }
  await import(pathToFileURL(r.file).href);
}
