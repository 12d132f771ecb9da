/** Where this checkout lives, and its git-ignored working folder for the dev stack. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * True in the compiled build: `npm run build` (scripts/build.js) defines it for esbuild. There,
 * this module is bundled into dist/<folder>/<file>.js (the build checks that every output sits at
 * that depth), one folder deeper than src/paths.ts.
 */
declare const SENTINEL_BUNDLED: boolean | undefined;
const bundled = typeof SENTINEL_BUNDLED !== 'undefined' && SENTINEL_BUNDLED;

export const projectRoot = fileURLToPath(new URL(bundled ? '../..' : '..', import.meta.url));

/** `.sentinel/` of this checkout, or SENTINEL_HOME: venv, server data, logs. */
export const sentinelHome = process.env.SENTINEL_HOME ?? join(projectRoot, '.sentinel');
