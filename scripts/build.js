#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, so `npm install` / `npm ci` build too): the compiled build in dist/.
 *
 * - Each entry point of bin/launch.js is bundled by esbuild into dist/<folder>/<file>.js (ESM,
 *   Node 20), with the code they share in dist/chunks/. Packages in node_modules stay imports
 *   (re2 is native; the Temporal SDK loads its own files by path), so dist/ holds Sentinel's code
 *   only. Sources import without extensions, which is why a bundler and not plain tsc.
 * - Every output sits two folders below the checkout, like the sources it came from, so paths made
 *   from import.meta.url (`../../workflows/…`) resolve the same; src/paths.ts is told it is
 *   bundled (SENTINEL_BUNDLED) and goes up one folder more.
 * - The workflow bundle is built ahead into dist/workflow-bundle.js (bundleWorkflowCode with the
 *   failure converter the data converter names), for `workflowBundle: { codePath }`.
 * - dist/manifest.json is written last: the sources that went in and digests of their contents,
 *   which bin/dist-state.js checks before anything runs from dist/.
 *
 * `--if-stale` builds only when dist/ is not current.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { components } from '../bin/launch.js';
import { currentWorkflowBundle, digestContents, distDir, distStatus, MANIFEST_FORMAT, manifestPath, BUILD_SCRIPT, workflowBundlePath, workflowInputsDigest } from '../bin/dist-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = distDir(root);
const rel = (p) => relative(root, p).split(sep).join('/');
const say = (line) => process.stdout.write(`build: ${line}\n`);

if (process.argv.includes('--if-stale') && distStatus(root).current && currentWorkflowBundle(root)) {
  say('dist/ is current');
  process.exit(0);
}

const started = performance.now();
// Until the new manifest is written, dist/ is not current: nothing runs a half-written build.
rmSync(manifestPath(root), { force: true });
mkdirSync(dist, { recursive: true });

// The workflow bundle's inputs, digested before webpack reads them: if one changes during the
// build, the recorded digest no longer matches the sources and the worker will not use the bundle.
const workflowDigest = workflowInputsDigest(root);
if (!workflowDigest) throw new Error('cannot read workflows/ and contract/');
const workflowBundle = bundleWorkflows();

// The entry points. Each source file is read once, here, and digested as read: the manifest
// describes exactly what went into dist/, even while someone edits the sources.
const { build } = await import('esbuild');
const loaded = new Map([[BUILD_SCRIPT, readFileSync(join(root, BUILD_SCRIPT))]]);
const loaders = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.json': 'json' };
const result = await build({
  absWorkingDir: root,
  entryPoints: Object.values(components).map((entry) => `src/${entry}.ts`),
  outdir: dist,
  outbase: 'src',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  define: { SENTINEL_BUNDLED: 'true' },
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'digest-sources',
      setup(b) {
        b.onLoad({ filter: /\.[cm]?[jt]s$|\.json$/ }, ({ path }) => {
          const loader = loaders[extname(path)];
          if (!loader) return undefined;
          const contents = readFileSync(path);
          loaded.set(rel(path), contents);
          return { contents, loader };
        });
      },
    },
  ],
});

const outputs = Object.keys(result.metafile.outputs).map((o) => rel(join(root, o)));
for (const o of outputs) {
  // dist/<folder>/<file>: two below the checkout, where import.meta.url-relative paths expect them.
  if (!/^dist\/[^/]+\/[^/]+$/.test(o)) throw new Error(`build output ${o} is not at dist/<folder>/<file>; paths relative to import.meta.url would break`);
}
const inputs = Object.keys(result.metafile.inputs).map((i) => rel(join(root, i)));
for (const i of inputs) if (!loaded.has(i)) throw new Error(`esbuild read ${i} without the digest plugin seeing it`);
const sources = new Map([...loaded].filter(([f]) => f === BUILD_SCRIPT || inputs.includes(f)));

await workflowBundle;

// Files of earlier builds that this one did not write (chunks under old names).
const keep = new Set([...outputs, rel(workflowBundlePath(root)), rel(manifestPath(root))]);
const prune = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      prune(p);
      if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
    } else if (!keep.has(rel(p))) rmSync(p, { force: true });
  }
};
prune(dist);

const manifest = {
  format: MANIFEST_FORMAT,
  builtAt: new Date().toISOString(),
  sources: { files: [...sources.keys()].sort(), digest: digestContents(sources) },
  workflowBundle: { digest: workflowDigest },
};
writeFileSync(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n');

const size = (files) => `${Math.round(files.reduce((n, f) => n + statSync(join(root, f)).size, 0) / 1024)} KiB`;
const js = outputs.filter((o) => o.endsWith('.js'));
say(`${Object.keys(components).length} entry points and ${js.length - Object.keys(components).length} shared chunks from ${sources.size - 1} sources (${size(js)}), workflow bundle (${size([rel(workflowBundlePath(root))])}), in ${((performance.now() - started) / 1000).toFixed(1)} s`);

/** bundleWorkflowCode into dist/workflow-bundle.js; runs alongside esbuild. */
async function bundleWorkflows() {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const quiet = () => {};
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(root, 'workflows', 'index.ts'),
    // The data converter's failure converter (src/temporal/data-converter.ts): the bundle must carry it.
    failureConverterPath: join(root, 'workflows', 'failure-converter.cjs'),
    logger: { trace: quiet, debug: quiet, info: quiet, log: quiet, warn: (m, meta) => say(`workflow bundle: ${m}${meta ? ` ${JSON.stringify(meta)}` : ''}`), error: (m, meta) => say(`workflow bundle: ${m}${meta ? ` ${JSON.stringify(meta)}` : ''}`) },
  });
  mkdirSync(dirname(workflowBundlePath(root)), { recursive: true });
  writeFileSync(workflowBundlePath(root), code);
}
