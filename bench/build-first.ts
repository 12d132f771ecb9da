/** The benchmarks run the compiled build: `npm run build` (scripts/build.js) first, when what they need from dist/ is not current. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_SCRIPT } from '../bin/dist-state.js';
import { projectRoot } from '../src/paths';

/** Runs the build, its output on this terminal, after saying `why`; throws when it fails. */
export function buildFirst(why: string, say: (line: string) => void): void {
  say(`building dist/ first: ${why}`);
  const b = spawnSync(process.execPath, [join(projectRoot, BUILD_SCRIPT)], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error(`npm run build failed (exit ${b.status ?? b.signal})`);
}
