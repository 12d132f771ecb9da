/** Where this checkout lives, and its git-ignored working folder for the dev stack. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** `.sentinel/` of this checkout, or SENTINEL_HOME: venv, server data, logs. */
export const sentinelHome = process.env.SENTINEL_HOME ?? join(projectRoot, '.sentinel');
