/**
 * The Web UI path, in a real browser: Debian's Chromium (scripts/test-tools.js installs it) driven
 * headless by playwright-core against a dev stack with the Temporal Web UI and a codec server, as
 * README "Secrets at rest" tells a new operator to use them. Without signing in, an incident's input
 * shows sealed (binary/encrypted); after signing in at the codec server, the Web UI it serves shows
 * the redacted match and the fingerprint, and never the secret. Those are the README's two steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentInput } from '../contract';
import { loadConfig } from '../src/config';
import { CodecServer } from '../src/codec-server/server';
import { newKeyMaterial } from '../src/crypto/keys';
import { createLogger } from '../src/log';
import { sentinelHome } from '../src/paths';
import { freePort, freePorts, startStack, type RunningStack } from '../src/stack/stack';
import { codecFrom, dataConverterFor } from '../src/temporal/data-converter';
// @ts-expect-error plain JavaScript, no declarations
import { ensureChromium } from '../scripts/test-tools.js';

const SECRET = 'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const REDACTED = 'ghp********************************7R8';
const FINGERPRINT = 'hmac-sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('the Web UI shows incidents decoded only to a signed-in operator', () => {
  let stack: RunningStack;
  let codecServer: CodecServer;
  let browser: Browser;
  let dir: string;
  let codecUrl: string;
  let workflowPath: string;
  let uiOwnUrl: string;
  const secrets = newKeyMaterial();

  beforeAll(async () => {
    const executablePath = ensureChromium() as string;
    dir = mkdtempSync(join(tmpdir(), 'sentinel-browser-'));
    const codecPort = await freePort();
    codecUrl = `http://127.0.0.1:${codecPort}`;
    // The dev stack as `npm run stack -- up` starts it: the Web UI, pointed at the codec server.
    stack = await startStack({ home: sentinelHome, dir, ports: await freePorts(), ui: true, uiCodecEndpoint: codecUrl });
    const uiUrl = stack.endpoints.temporalUiUrl!;
    const config = loadConfig({ ...secrets, SENTINEL_CODEC_SERVER_ORIGINS: uiUrl });
    // As `npm run codec-server` runs with the stack's variables: it also serves the Web UI.
    codecServer = new CodecServer({ codec: codecFrom(config), tokens: config.codecServer.tokens, origins: config.codecServer.origins, maxBodyBytes: config.codecServer.maxBodyBytes, log: createLogger({ level: 'warn' }), webUi: uiUrl });
    await codecServer.start(codecPort, '127.0.0.1');

    // An incident as the detector opens it (sealed by the codec); no worker runs, so it stays open.
    const client = new Client({ connection: await Connection.connect({ address: stack.endpoints.temporalAddress }), dataConverter: dataConverterFor(codecFrom(config)) });
    const incidentId = 'incident/slack/T0SENTNL1/C0GENERAL/1700000000.000100/github-pat';
    const input: IncidentInput = {
      incidentId,
      source: 'slack',
      team: 'T0SENTNL1',
      channel: 'C0GENERAL',
      user: 'U0ALICE01',
      ts: '1700000000.000100',
      rule: { id: 'github-pat', description: 'GitHub personal access token', category: 'secret', severity: 'high', actions: ['delete', 'notify'], message: 'A GitHub token was removed.', approvalRequired: false },
      match: { redacted: REDACTED, excerpt: `prod token ${REDACTED} do not share`, fingerprint: FINGERPRINT, start: 11, end: 11 + SECRET.length },
      detectedAt: new Date().toISOString(),
    };
    const handle = await client.workflow.start('incident', { taskQueue: 'browser-test-no-worker', workflowId: incidentId, args: [input] });
    workflowPath = `/namespaces/default/workflows/${encodeURIComponent(incidentId)}/${handle.firstExecutionRunId}/history`;
    uiOwnUrl = uiUrl;
    await client.connection.close();

    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await codecServer?.stop();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The text of the incident's page once its input has loaded. */
  async function inputText(page: Page, base: string): Promise<string> {
    await page.goto(`${base}${workflowPath}`);
    // The input renders once the UI has asked the codec server (or given up on it).
    await page.getByText('Event History').first().waitFor({ timeout: 30_000 });
    await page.waitForTimeout(3000);
    return page.locator('body').innerText();
  }

  it('shows the input sealed to a browser that has not signed in, on the UI’s own address and through the codec server', async () => {
    for (const base of [uiOwnUrl, codecUrl]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const text = await inputText(page, base);
      // The sealed payload's bytes (base64 of AES-GCM ciphertext), and the UI saying it could not decode.
      expect(text).toMatch(/Input\s+"[A-Za-z0-9+/]{200,}={0,2}"/);
      expect(text).not.toContain(REDACTED);
      expect(text).not.toContain(FINGERPRINT);
      await context.close();
    }
  });

  it('shows the redacted match and the fingerprint after the README’s two steps, never the secret', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // 1. Sign in at the codec server with SENTINEL_CODEC_SERVER_TOKEN.
    await page.goto(`${codecUrl}/login`);
    await page.locator('input[name=token]').fill(secrets.SENTINEL_CODEC_SERVER_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in').waitFor();
    // 2. Open the Web UI the codec server serves.
    const text = await inputText(page, codecUrl);
    await page.screenshot({ path: join(dir, 'decoded.png'), fullPage: true });
    if (process.env.SENTINEL_BROWSER_SCREENSHOTS) await page.screenshot({ path: join(process.env.SENTINEL_BROWSER_SCREENSHOTS, 'decoded.png'), fullPage: true });
    expect(text).toContain(REDACTED);
    expect(text).toContain(FINGERPRINT);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('Codec Server could not connect');
    await context.close();
  });
});
