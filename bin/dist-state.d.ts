/** Types of bin/dist-state.js (plain JavaScript, so the launchers can load it without tsx). */
export declare const MANIFEST_FORMAT: number;
export declare const BUILD_SCRIPT: string;
export declare function distDir(root: string): string;
export declare function manifestPath(root: string): string;
export declare function workflowBundlePath(root: string): string;
export declare function digestContents(entries: Iterable<readonly [string, Uint8Array]>): string;
export declare function digestFiles(root: string, files: readonly string[]): string | undefined;
export declare function workflowInputsDigest(root: string): string | undefined;
export declare function installedVersion(root: string, folder: string): string | undefined;

export interface DistManifest {
  format: number;
  builtAt: string;
  /** Every source file bundled into the entry points (relative to the checkout), and their digest. */
  sources: { files: string[]; digest: string };
  /** Digest of the workflow bundle's inputs (workflowInputsDigest) when dist/workflow-bundle.js was written. */
  workflowBundle: { digest: string };
  /** The installed packages bundled into the workers and the detector, by folder (`node_modules/…`): their versions when built. */
  packages?: { versions: Record<string, string> };
}
export declare function readManifest(root: string): DistManifest | undefined;
export declare function distStatus(root: string): { current: true } | { current: false; reason: string };
export declare function currentWorkflowBundle(root: string): string | undefined;
