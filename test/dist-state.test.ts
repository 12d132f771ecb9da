/**
 * When dist/ is current (bin/dist-state.js): the sources as digested, and the installed packages
 * bundled into the workers at the versions they were built from.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestFiles, distStatus, MANIFEST_FORMAT, manifestPath } from '../bin/dist-state.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A checkout with one source and one installed package, built: its manifest as the build writes it. */
function builtCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), 'sentinel-dist-state-'));
  roots.push(root);
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  installPackage(root, 'node_modules/@example/pkg', '1.2.3');
  mkdirSync(join(root, 'dist'), { recursive: true });
  const files = ['src/a.ts'];
  const manifest = {
    format: MANIFEST_FORMAT,
    builtAt: new Date().toISOString(),
    sources: { files, digest: digestFiles(root, files) },
    workflowBundle: { digest: 'x' },
    packages: { versions: { 'node_modules/@example/pkg': '1.2.3' } },
  };
  writeFileSync(manifestPath(root), JSON.stringify(manifest));
  return root;
}

function installPackage(root: string, folder: string, version: string): void {
  mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, folder, 'package.json'), JSON.stringify({ name: '@example/pkg', version }));
}

describe('distStatus', () => {
  it('is current while the sources and the bundled packages are as built', () => {
    expect(distStatus(builtCheckout())).toEqual({ current: true });
  });

  it('is stale once a source changes', () => {
    const root = builtCheckout();
    writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 2;\n');
    expect(distStatus(root)).toEqual({ current: false, reason: 'the sources changed since the last build' });
  });

  it('is stale once a bundled package is installed at another version, and says which', () => {
    const root = builtCheckout();
    installPackage(root, 'node_modules/@example/pkg', '1.3.0');
    expect(distStatus(root)).toEqual({ current: false, reason: 'node_modules/@example/pkg is 1.3.0 now, 1.2.3 when dist/ was built' });
  });

  it('stays current when a bundled package is no longer installed (npm prune after the build): its code is in the bundle', () => {
    const root = builtCheckout();
    rmSync(join(root, 'node_modules'), { recursive: true });
    expect(distStatus(root)).toEqual({ current: true });
  });

  it('is stale for a manifest of an older build format', () => {
    const root = builtCheckout();
    writeFileSync(manifestPath(root), JSON.stringify({ format: MANIFEST_FORMAT - 1, sources: { files: ['src/a.ts'], digest: 'x' } }));
    expect(distStatus(root)).toEqual({ current: false, reason: 'dist/ has no manifest (an interrupted or older build)' });
  });
});
