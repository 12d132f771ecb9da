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

  it('allows type-only imports of activities and pure workflow libraries in workflows/', async () => {
    const code = "import type { Activities } from '../activities';\nimport { proxyActivities } from '@temporalio/workflow';\nexport const a = proxyActivities<Activities>({ startToCloseTimeout: '1s' });\n";
    expect(await errors('workflows/probe.ts', code)).toEqual([]);
  });

  it('refuses @temporalio/workflow in activities/', async () => {
    const msgs = await errors('activities/probe.ts', "import { sleep } from '@temporalio/workflow';\nexport const s = sleep;\n");
    expect(msgs.join('\n')).toContain('activities run outside the workflow sandbox');
  });
});
