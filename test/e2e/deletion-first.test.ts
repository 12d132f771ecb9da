/**
 * Deletion first, against a simulator with Slack-like per-method limits: a delete issued during a
 * storm of notifications goes out at once, on its own queue and budget, instead of queuing behind
 * them; and a burst's notifications and summaries go out as digests, a few calls for many incidents.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentState } from '../../contract';
import { applyRateLimits } from '../../src/slack-sim/dev-limits';
import { eventually, incidentResult, startHarness, type Harness, postAndPublish } from '../support/harness';

const TEAM = 'T0SENTNL1';
// A workspace as Slack runs it, scaled up a little so that the suite takes seconds: posts are the scarce method.
const WORKSPACE = 'chat.postMessage=2/s,chat.delete=20/s,conversations.open=20/s,users.info=20/s,conversations.history=20/s';
const rules = `rules:
  - id: chatter
    description: notify only
    category: policy
    severity: low
    match: { keywords: [stormword] }
    actions: [notify]
    message: "<@{user}>, a reminder about stormwords."
  - id: leak
    description: delete and notify
    category: secret
    severity: high
    match: { keywords: [leakword] }
    actions: [delete, notify]
    message: "<@{user}>, do not post leakwords."
`;

async function suite(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-deletion-first-'));
  writeFileSync(join(dir, 'rules.yaml'), rules);
  const h = await startHarness({ SENTINEL_RULES_DIR: dir, SLACK_RATE_LIMITS: WORKSPACE, SLACK_MAX_CALLS_PER_SECOND: '2', ...env });
  applyRateLimits(h.sim, WORKSPACE);
  const post = (user: string, channel: string, text: string) => postAndPublish(h, user, channel, text);
  return { h, post };
}

describe('deletion first', () => {
  let h: Harness;
  let post: Awaited<ReturnType<typeof suite>>['post'];
  beforeAll(async () => {
    ({ h, post } = await suite({ SLACK_DIGEST_INTERVAL: '0s', SENTINEL_SECURITY_CHANNEL: '' }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('deletes while 30 notifications still queue at 2 posts/s', async () => {
    for (let i = 0; i < 30; i++) await post(i % 2 ? 'U0ALICE01' : 'U0BOB0001', 'C0ENGINEE', `stormword ${i}`);
    await eventually('the storm to be under way', () => h.sim.okCalls('chat.postMessage').length >= 2);
    const sent = Date.now();
    const leak = await post('U0CAROL01', 'C0GENERAL', 'the leakword is out');
    await eventually('the delete', () => h.sim.okCalls('chat.delete').some((c) => c.args.ts === leak.ts), 20_000);
    const deleteAt = h.sim.okCalls('chat.delete').find((c) => c.args.ts === leak.ts)!.at;
    const pendingPosts = 30 - h.sim.okCalls('chat.postMessage').filter((c) => c.at <= deleteAt).length;
    process.stdout.write(`\ndeletion first: delete ${deleteAt - sent} ms after the post, ${pendingPosts} notifications still queued\n`);
    // On one queue the delete would wait for the storm: 30 posts at 2/s, 15 s. On its own it goes out
    // while most of the storm is still queued (how fast, on a quiet machine, is bench:pipeline's business).
    expect(pendingPosts).toBeGreaterThan(10);
    expect(deleteAt - sent).toBeLessThan(6000);
    const state = await incidentResult<IncidentState>(h.client, `incident/slack/${TEAM}/C0GENERAL/${leak.ts}/leak`, 60_000);
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'done'],
      ['notify', 'done'],
      ['summary', 'skipped'],
      ['report', 'done'],
    ]);
  }, 90_000);
});

describe('digests in a burst', () => {
  let h: Harness;
  let post: Awaited<ReturnType<typeof suite>>['post'];
  beforeAll(async () => {
    ({ h, post } = await suite({ SLACK_DIGEST_INTERVAL: '2s', SLACK_MAX_CALLS_PER_SECOND: '50' }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('tells every author and the security channel about every incident, in a handful of posts', async () => {
    const BURST = 30;
    const messages = [];
    for (let i = 0; i < BURST; i++) messages.push(await post(i % 2 ? 'U0ALICE01' : 'U0BOB0001', 'C0GENERAL', `leakword ${i}`));
    const ids = messages.map((m) => `incident/slack/${TEAM}/C0GENERAL/${m.ts}/leak`);
    const states = await Promise.all(ids.map((id) => incidentResult<IncidentState>(h.client, id, 90_000)));
    for (const s of states) expect(s.steps.filter((x) => x.outcome === 'failed')).toEqual([]);
    // Every incident's notice and summary is carried by some message, by key.
    const keysIn = (channel: string) => new Set(h.sim.workspace.history(channel).flatMap((m) => String(m.metadata?.event_payload?.keys ?? '').split(' ')));
    const dms = new Set([...keysIn('D0ALICE01'), ...keysIn('D0BOB0001')]);
    const summaries = keysIn('C0SECURIT');
    for (const id of ids) {
      expect(dms.has(`${id}#notify`)).toBe(true);
      expect(summaries.has(`${id}#summary`)).toBe(true);
    }
    const slackCalls = h.sim.calls.filter((c) => c.ok).length;
    const posts = h.sim.okCalls('chat.postMessage').length;
    const byMethod = new Map<string, number>();
    for (const c of h.sim.calls.filter((x) => x.ok)) byMethod.set(c.method, (byMethod.get(c.method) ?? 0) + 1);
    process.stdout.write(`\ndigests: ${BURST} incidents, ${posts} posts, ${slackCalls} Slack calls (${(slackCalls / BURST).toFixed(2)} per incident): ${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}\n`);
    expect(slackCalls / BURST).toBeLessThanOrEqual(2.5);
    expect(h.sim.calls.filter((c) => c.method === 'conversations.history')).toEqual([]);
  }, 120_000);
});
