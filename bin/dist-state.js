/**
 * Is the compiled build in dist/ current? Plain JavaScript, so that the launchers can ask before
 * anything TypeScript is loaded; shared with the build (scripts/build.js) and the worker
 * (src/worker/bundle.ts), so the three can never disagree about what "current" means.
 *
 * `npm run build` writes dist/manifest.json last. It lists every source file esbuild bundled into
 * the entry points and a digest of their contents, and a digest of the workflow bundle's inputs.
 * Current means: the manifest exists and the same files hash to the same digest now. Contents,
 * not modification times: a checkout, a stash or an editor cannot make a stale build look fresh.
 * The workers and the detector carry their installed packages inside (scripts/build.js): the
 * manifest keeps each one's version, and a package installed at another version since makes the
 * build stale too. A package no longer installed does not (`npm prune` after the build): its code
 * is in the bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bump when the manifest's shape or the build's layout changes: an older dist/ is then stale. */
export const MANIFEST_FORMAT = 2;

/** The build script: a change to it (options, layout) makes every earlier build stale. */
export const BUILD_SCRIPT = 'scripts/build.js';

/** Where the compiled build lives in a checkout. */
export const distDir = (root) => join(root, 'dist');
export const manifestPath = (root) => join(root, 'dist', 'manifest.json');
export const workflowBundlePath = (root) => join(root, 'dist', 'workflow-bundle.js');

/** sha256 over `[path, contents]` pairs, in path order. */
export function digestContents(entries) {
  const h = createHash('sha256');
  for (const [file, body] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(file).update('\0').update(String(body.length)).update('\0').update(body);
  }
  return h.digest('hex');
}

/** digestContents of the files as they are on disk now; undefined when one cannot be read. */
export function digestFiles(root, files) {
  const entries = [];
  for (const file of files) {
    try {
      entries.push([file, readFileSync(join(root, file))]);
    } catch {
      return undefined;
    }
  }
  return digestContents(entries);
}

/** The version in an installed package's package.json (`folder` relative to root); undefined when it cannot be read. */
export function installedVersion(root, folder) {
  try {
    return String(JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')).version ?? 'none');
  } catch {
    return undefined;
  }
}

/** Every file under `dir` (relative to root, `/`-separated), sorted. */
function listFiles(root, dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.isFile()) out.push(child);
    }
  };
  if (existsSync(join(root, dir))) walk(dir);
  return out.sort();
}

/**
 * What the workflow bundle is made of: every file in workflows/ and contract/ (the only Sentinel
 * code workflows may import; ESLint enforces it), the build script, and the versions of the
 * installed @temporalio packages (the SDK's own workflow runtime is in the bundle too).
 */
export function workflowInputsDigest(root) {
  const files = [...listFiles(root, 'workflows'), ...listFiles(root, 'contract'), BUILD_SCRIPT];
  const sources = digestFiles(root, files);
  if (sources === undefined) return undefined;
  const h = createHash('sha256').update(sources);
  const scope = join(root, 'node_modules', '@temporalio');
  const packages = existsSync(scope) ? readdirSync(scope).sort() : [];
  for (const name of packages) {
    // A half-installed package: its name still counts, so the digest differs from a good install.
    const version = installedVersion(root, join('node_modules', '@temporalio', name)) ?? 'unreadable';
    h.update(`\0@temporalio/${name}@${version}`);
  }
  return h.digest('hex');
}

/** dist/manifest.json, or undefined when there is none (or it is from another build format). */
export function readManifest(root) {
  try {
    const m = JSON.parse(readFileSync(manifestPath(root), 'utf8'));
    return m && m.format === MANIFEST_FORMAT ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether dist/ holds a build of the sources as they are now: `{ current: true }`, or
 * `{ current: false, reason }` with a reason fit to print.
 */
export function distStatus(root) {
  const m = readManifest(root);
  if (!m) return { current: false, reason: existsSync(distDir(root)) ? 'dist/ has no manifest (an interrupted or older build)' : 'there is no dist/ (not built)' };
  const files = m.sources?.files;
  if (!Array.isArray(files) || files.length === 0) return { current: false, reason: 'dist/manifest.json lists no sources' };
  if (digestFiles(root, files) !== m.sources.digest) return { current: false, reason: 'the sources changed since the last build' };
  for (const [folder, version] of Object.entries(m.packages?.versions ?? {})) {
    const now = installedVersion(root, folder);
    if (now === undefined) continue; // not installed any more: the bundle has its code
    if (now !== version) return { current: false, reason: `${folder} is ${now} now, ${version} when dist/ was built` };
  }
  return { current: true };
}

/**
 * The prebuilt workflow bundle when it was built from workflows/, contract/ and the @temporalio
 * packages exactly as they are now; otherwise undefined (the worker then bundles the sources).
 */
export function currentWorkflowBundle(root) {
  const m = readManifest(root);
  const codePath = workflowBundlePath(root);
  if (!m?.workflowBundle?.digest || !existsSync(codePath)) return undefined;
  return workflowInputsDigest(root) === m.workflowBundle.digest ? codePath : undefined;
}
