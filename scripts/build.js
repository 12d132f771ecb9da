#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, so `npm install` / `npm ci` build too): the compiled build in dist/.
 *
 * - Each entry point of bin/launch.js is bundled by esbuild into dist/<folder>/<file>.js (ESM,
 *   Node 20), with the code they share in dist/chunks/. Sources import without extensions, which
 *   is why a bundler and not plain tsc.
 * - The workers and the detector (SELF_CONTAINED) carry their installed packages inside, all but
 *   native code and packages that find their own files by path (UNBUNDLED); the other entry points
 *   import theirs from node_modules.
 * - Every output sits two folders below the checkout, like the sources it came from, so paths made
 *   from import.meta.url (`../../workflows/…`) resolve the same; src/paths.ts is told it is
 *   bundled (SENTINEL_BUNDLED) and goes up one folder more.
 * - The workflow bundle is built ahead into dist/workflow-bundle.js (bundleWorkflowCode with the
 *   failure converter the data converter names), for `workflowBundle: { codePath }`.
 * - dist/manifest.json is written last: the sources that went in and digests of their contents,
 *   and the versions of the packages bundled in, which bin/dist-state.js checks before anything
 *   runs from dist/.
 *
 * `--if-stale` builds only when dist/ is not current.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { components } from '../bin/launch.js';
import { currentWorkflowBundle, digestContents, distDir, distStatus, installedVersion, MANIFEST_FORMAT, manifestPath, BUILD_SCRIPT, workflowBundlePath, workflowInputsDigest } from '../bin/dist-state.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Entry points built with their installed packages inside, not left as imports: the workers and the
 * detector, the processes a fleet runs many of and restarts. Node otherwise reads hundreds of
 * CommonJS files for them (about 850 for the remediation worker; rxjs alone is 226), which was
 * about 0.2-0.3 s of each one's start-up CPU.
 */
const SELF_CONTAINED = ['worker/main', 'worker/kms-main', 'detector/main'];
/**
 * Packages the SELF_CONTAINED entry points still import from node_modules: native code (the
 * Temporal SDK's core bridge, re2), and packages that find their own files by `__dirname` (gRPC's
 * channelz and ORCA protos, source-map's wasm).
 */
const UNBUNDLED = ['@temporalio/core-bridge', 're2', '@grpc/grpc-js', 'source-map', '*.node'];
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
/** The installed packages bundled into the SELF_CONTAINED entry points, by folder (`node_modules/…`), and their versions. */
const bundledPackages = new Map();
const loaders = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.json': 'json' };
const common = {
  absWorkingDir: root,
  outdir: dist,
  outbase: 'src',
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define: { SENTINEL_BUNDLED: 'true' },
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
};
const selfContained = Object.values(components).filter((entry) => SELF_CONTAINED.includes(entry));
const [result, selfContainedResult] = await Promise.all([
  build({
    ...common,
    entryPoints: Object.values(components)
      .filter((entry) => !SELF_CONTAINED.includes(entry))
      .map((entry) => `src/${entry}.ts`),
    packages: 'external',
    plugins: [sourcesPlugin()],
  }),
  build({
    ...common,
    entryPoints: selfContained.map((entry) => `src/${entry}.ts`),
    external: [...UNBUNDLED],
    // The packages' CommonJS calls require(): an ES module has none of its own.
    banner: { js: "import { createRequire as __sentinelCreateRequire } from 'node:module'; const require = __sentinelCreateRequire(import.meta.url);" },
    plugins: [workerPackagesPlugin(), sourcesPlugin()],
  }),
]);
for (const [k, v] of Object.entries(selfContainedResult.metafile.inputs)) result.metafile.inputs[k] = v;
for (const [k, v] of Object.entries(selfContainedResult.metafile.outputs)) result.metafile.outputs[k] = v;

/** Reads and digests every file esbuild bundles: Sentinel's sources into `loaded`, installed packages' folders into `bundledPackages`. */
function sourcesPlugin() {
  return {
    name: 'digest-sources',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?[jt]s$|\.json$/ }, ({ path }) => {
        const loader = loaders[extname(path)];
        if (!loader) return undefined;
        const contents = readFileSync(path);
        const pkg = packageFolder(path);
        if (!pkg) {
          loaded.set(rel(path), contents);
          return { contents, loader };
        }
        if (!bundledPackages.has(pkg.folder)) bundledPackages.set(pkg.folder, installedVersion(root, pkg.folder) ?? 'unreadable');
        return { contents: rewritePackagePaths(pkg, path, contents.toString('utf8')), loader };
      });
    },
  };
}

/** The installed package a file belongs to: its folder (relative, `node_modules/…/<name>`) and name. */
function packageFolder(path) {
  const r = rel(path);
  const m = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(r);
  return m ? { folder: m[1], name: m[2] } : undefined;
}

/**
 * A bundled package's file, made to work from dist/: `require.resolve('./x')` (the Temporal worker
 * finds its workflow thread that way) names the file by package instead, so that it resolves from
 * the bundle as it did from the package. A file that finds others by `__dirname` or `__filename`
 * cannot be bundled: the build stops and says which, to be added to UNBUNDLED.
 */
function rewritePackagePaths(pkg, path, text) {
  const out = text.replace(/require\.resolve\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*\)/g, (_, _q, spec) => {
    const target = relative(join(root, pkg.folder), join(dirname(path), spec)).split(sep).join('/');
    if (target.startsWith('..')) throw new Error(`${rel(path)} resolves ${spec} outside its package, which a bundle cannot name: add ${JSON.stringify(pkg.name)} to UNBUNDLED in ${BUILD_SCRIPT}`);
    return `require.resolve(${JSON.stringify(`${pkg.name}/${target}`)})`;
  });
  if (/\b__(?:dirname|filename)\b/.test(out)) throw new Error(`${rel(path)} uses __dirname or __filename, which a bundle cannot keep: add ${JSON.stringify(pkg.name)} to UNBUNDLED in ${BUILD_SCRIPT}`);
  return out;
}

/**
 * The Temporal worker's bundler (webpack, swc, memfs: about 0.1 s of CPU to load) only for a worker
 * that bundles its workflows at start. With the prebuilt workflow bundle it is never called, so the
 * workers get a stand-in: the one value the worker reads from it, and the rest loaded from the
 * installed package on first use.
 */
function workerPackagesPlugin() {
  return {
    name: 'lazy-temporal-bundler',
    setup(b) {
      b.onResolve({ filter: /^\.\/workflow\/bundler$/ }, ({ importer }) => (/node_modules\/@temporalio\/worker\/lib\/[^/]+$/.test(importer) ? { path: 'bundler', namespace: 'lazy-temporal-bundler' } : undefined));
      // The stand-in's own require of the real bundler stays a require, resolved on first use.
      b.onResolve({ filter: /^@temporalio\/worker\/lib\/workflow\/bundler$/ }, ({ namespace }) => (namespace === 'lazy-temporal-bundler' ? { path: '@temporalio/worker/lib/workflow/bundler', external: true } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'lazy-temporal-bundler' }, async () => {
        const { createRequire } = await import('node:module');
        const names = Object.keys(createRequire(join(root, 'package.json'))('@temporalio/worker/lib/workflow/bundler'));
        const lines = [
          "const real = () => require('@temporalio/worker/lib/workflow/bundler');",
          "exports.defaultWorkflowInterceptorModules = [require.resolve('@temporalio/worker/lib/workflow-log-interceptor')];",
          ...names.filter((n) => n !== 'defaultWorkflowInterceptorModules').map((n) => `Object.defineProperty(exports, ${JSON.stringify(n)}, { enumerable: true, get: () => real()[${JSON.stringify(n)}] });`),
        ];
        return { contents: lines.join('\n'), loader: 'js', resolveDir: root };
      });
    },
  };
}

const outputs = Object.keys(result.metafile.outputs).map((o) => rel(join(root, o)));
for (const o of outputs) {
  // dist/<folder>/<file>: two below the checkout, where import.meta.url-relative paths expect them.
  if (!/^dist\/[^/]+\/[^/]+$/.test(o)) throw new Error(`build output ${o} is not at dist/<folder>/<file>; paths relative to import.meta.url would break`);
}
const inputs = Object.keys(result.metafile.inputs)
  .map((i) => rel(join(root, i)))
  .filter((i) => !packageFolder(join(root, i)) && !i.startsWith('lazy-temporal-bundler:'));
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
  packages: { versions: Object.fromEntries([...bundledPackages].sort(([a], [b]) => (a < b ? -1 : 1))) },
};
writeFileSync(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n');

const size = (files) => `${Math.round(files.reduce((n, f) => n + statSync(join(root, f)).size, 0) / 1024)} KiB`;
const js = outputs.filter((o) => o.endsWith('.js'));
say(`${Object.keys(components).length} entry points and ${js.length - Object.keys(components).length} shared chunks from ${sources.size - 1} sources and, for the workers and the detector, ${bundledPackages.size} installed packages (${size(js)}), workflow bundle (${size([rel(workflowBundlePath(root))])}), in ${((performance.now() - started) / 1000).toFixed(1)} s`);

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
