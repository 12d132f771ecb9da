/**
 * The workflow code a worker runs. `npm run build` bundles it ahead into dist/workflow-bundle.js
 * (bundleWorkflowCode, with the data converter's failure converter), so a worker starts without
 * running webpack. The prebuilt bundle is used only while it is current: built from workflows/,
 * contract/ and the installed @temporalio packages exactly as they are now (a content digest the
 * build records in dist/manifest.json, checked here at start-up). Otherwise the worker bundles the
 * sources itself, as it does without a build: a stale bundle never runs.
 */
import { join } from 'node:path';
import { currentWorkflowBundle } from '../../bin/dist-state.js';
import { projectRoot } from '../paths';

export type WorkflowCodeOption = { workflowBundle: { codePath: string } } | { workflowsPath: string };

/** For Worker.create: the prebuilt bundle when it is current, else the workflow sources to bundle. */
export function workflowBundleOption(root: string = projectRoot): WorkflowCodeOption {
  const codePath = currentWorkflowBundle(root);
  return codePath ? { workflowBundle: { codePath } } : { workflowsPath: join(root, 'workflows', 'index.ts') };
}
