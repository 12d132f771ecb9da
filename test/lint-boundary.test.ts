/** Lint keeps workflow code deterministic: these imports must be refused in workflows/ and activities/. */
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths';

const eslint = new ESLint({ cwd: projectRoot });

async function errors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(projectRoot, file) });
  return result!.messages.filter((m) => m.severity === 2).map((m) => m.message);
}

describe('sandbox boundary lint', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';"],
    ["import { randomUUID } from 'crypto';"],
    ["import { connect } from 'nats';"],
    ["import { WebClient } from '@slack/web-api';"],
    ["import { KMSClient } from '@aws-sdk/client-kms';"],
    ["import { Context } from '@temporalio/activity';"],
    ["import { createActivities } from '../activities';"],
    ["import { loadConfig } from '../src/config';"],
  ])('refuses %s in workflows/', async (line) => {
    expect((await errors('workflows/probe.ts', `${line}\nexport const x = 1;\n`)).join('\n')).toContain('deterministic sandbox');
  });

  it('refuses even type-only imports of activities/ and src/ in workflows/: the contract is the one shared module', async () => {
    for (const line of ["import type { SlackClients } from '../activities/slack';", "import type { Config } from '../src/config';"]) {
      expect((await errors('workflows/probe.ts', `${line}\nexport type X = 1;\n`)).join('\n')).toContain('contract/');
    }
  });

  it('allows the contract and pure workflow libraries in workflows/', async () => {
    const code =
      "import type { SlackActivities } from '../contract';\nimport { slackCall } from '../contract';\nimport { proxyActivities } from '@temporalio/workflow';\nexport const a = proxyActivities<SlackActivities>(slackCall);\n";
    expect(await errors('workflows/probe.ts', code)).toEqual([]);
  });

  it('keeps contract/ free of IO and of the rest of Sentinel', async () => {
    expect((await errors('contract/probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n")).join('\n')).toContain('deterministic sandbox');
    expect((await errors('contract/probe.ts', "import type { Config } from '../src/config';\nexport type C = Config;\n")).join('\n')).toContain('depends on nothing of Sentinel');
  });

  it('refuses src/ and workflows/ in activities/', async () => {
    for (const line of ["import type { Config } from '../src/config';", "import { incidentWorkflow } from '../workflows/incident';"]) {
      expect((await errors('activities/probe.ts', `${line}\nexport const x = 1;\n`)).join('\n')).toContain('through contract/ only');
    }
  });

  it('refuses @temporalio/workflow in activities/', async () => {
    const msgs = await errors('activities/probe.ts', "import { sleep } from '@temporalio/workflow';\nexport const s = sleep;\n");
    expect(msgs.join('\n')).toContain('activities run outside the workflow sandbox');
  });
});
