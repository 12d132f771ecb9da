/**
 * `sentinel backfill` against the simulator and the run's stack: history read within the window,
 * threads included; --dry-run prints what would become incidents (redacted) and starts nothing;
 * publishing hands messages to the detectors; an interrupted run continues where it stopped; 429s
 * are waited out without losing a message; bad input is refused with a message that says what.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { backfill, BackfillError, parseSince, type BackfillOptions } from '../src/cli/backfill';
import { ConfigError } from '../src/config';
import { SIM_ADMIN_TOKEN } from '../src/slack-sim/workspace';
import { rng, secretValues } from './corpus/generators';
import { incidentResult, startHarness, type Harness } from './support/harness';

const TEAM = 'T0SENTNL1';
const DAY = 86_400_000;

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('sentinel backfill', () => {
  let h: Harness;
  const pat = secretValues['github-pat']!(rng(501));
  const replyPat = secretValues['github-pat']!(rng(502));
  const oldPat = secretValues['github-pat']!(rng(503));
  let leakTs = '';
  let replyTs = '';
  let oldTs = '';

  beforeAll(async () => {
    h = await startHarness();
    const ws = h.sim.workspace;
    ws.addChannel({ id: 'C0BACKFIL', name: 'backfill-busy', kind: 'channel' });
    ws.addChannel({ id: 'G0BACKFIL', name: 'backfill-private', kind: 'group' });
    const base = Date.now() - 3 * DAY;
    // 450 messages: three history pages of 200 in the busy channel.
    for (let i = 0; i < 450; i++) h.sim.seedMessage('U0BOB0001', 'C0BACKFIL', `status update ${i}`, { at: base + i * 60_000 });
    leakTs = h.sim.seedMessage('U0ALICE01', 'C0BACKFIL', `here you go ${pat}`, { at: base + DAY }).ts;
    const parent = h.sim.seedMessage('U0ALICE01', 'G0BACKFIL', 'which token does CI use?', { at: base + 2 * DAY });
    replyTs = h.sim.seedMessage('U0BOB0001', 'G0BACKFIL', `this one: ${replyPat}`, { at: base + 2 * DAY + 5000, threadTs: parent.ts }).ts;
    oldTs = h.sim.seedMessage('U0ALICE01', 'G0BACKFIL', `ancient ${oldPat}`, { at: Date.now() - 30 * DAY }).ts;
  });
  afterAll(() => h?.close());

  const run = async (o: Partial<BackfillOptions> = {}) => {
    const stdout = new Sink();
    const stderr = new Sink();
    const env = {
      SLACK_API_URL: h.sim.apiUrl,
      SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
      NATS_URL: inject('stack').natsUrl,
      SLACK_RATE_LIMITS: '*=200/s',
      ...inject('secrets'),
    };
    const code = await backfill({ since: '7d', env, stdout, stderr, nc: h.nc, stateDir: mkdtempSync(join(tmpdir(), 'backfill-')), ...o });
    return { code, out: stdout.text, err: stderr.text };
  };

  it('prints what would become incidents on a dry run, redacted, within the window and threads included, starting nothing', async () => {
    const started = h.detector.stats.handled;
    const r = await run({ dryRun: true, channels: ['C0BACKFIL', 'G0BACKFIL'] });
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^github-pat\\t#backfill-busy \\(C0BACKFIL\\)\\t${leakTs.replace('.', '\\.')}\\tU0ALICE01\\t`));
    expect(lines[1]).toMatch(new RegExp(`^github-pat\\t#backfill-private \\(G0BACKFIL\\)\\t${replyTs.replace('.', '\\.')}\\tU0BOB0001\\t`));
    for (const secret of [pat, replyPat, oldPat]) expect(r.out + r.err).not.toContain(secret);
    expect(r.out).not.toContain(oldTs);
    expect(r.err).toContain('backfill: 2/2 channels · 453 messages · 2 findings');
    expect(r.err).toContain('dry run: nothing was published');
    expect(h.detector.stats.handled).toBe(started);
  });

  it('waits out 429s with Retry-After and reads every message', async () => {
    h.sim.injectFault({ method: 'conversations.history', kind: 'rate_limited', retryAfter: 1, times: 2 });
    h.sim.injectFault({ method: 'conversations.replies', kind: 'rate_limited', retryAfter: 1, times: 1 });
    h.sim.rateLimit('conversations.history', 2);
    try {
      const r = await run({ dryRun: true, channels: ['C0BACKFIL', 'G0BACKFIL'] });
      expect(r.code).toBe(0);
      expect(r.err).toContain('453 messages · 2 findings');
      expect(r.err).toMatch(/\d+ rate-limited calls waited out/);
      expect(h.sim.calls.filter((c) => c.method === 'conversations.replies' && c.status === 429).length).toBeGreaterThanOrEqual(1);
    } finally {
      h.sim.rateLimit('conversations.history', undefined);
    }
  });

  it('publishes history to CHAT so that the detectors open the incidents', async () => {
    const r = await run({ channels: ['G0BACKFIL'] });
    expect(r.code).toBe(0);
    expect(r.err).toContain('2 messages published to CHAT');
    const state = await incidentResult<{ status: string }>(h.client, `incident/slack/${TEAM}/G0BACKFIL/${replyTs}/github-pat`);
    expect(state.status).toBe('resolved');
  });

  it('continues an interrupted run where it stopped and does not read a finished channel again', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'backfill-resume-'));
    const stop = new AbortController();
    const historyCalls = () => h.sim.calls.filter((c) => c.method === 'conversations.history' && c.args.channel === 'C0BACKFIL' && c.status === 200);
    const before = historyCalls().length;
    const first = await run({ stateDir, channels: ['C0BACKFIL'], signal: stop.signal, onProgress: (p) => p.messages >= 10 && stop.abort() });
    expect(first.code).toBe(130);
    expect(first.err).toContain('run the same command again to continue');
    const saved = JSON.parse(readFileSync(join(stateDir, `${TEAM}.json`), 'utf8')) as { channels: Record<string, { cursor?: string; done: boolean; messages: number }> };
    expect(saved.channels.C0BACKFIL).toMatchObject({ done: false, messages: 200, cursor: expect.any(String) });

    const second = await run({ stateDir, channels: ['C0BACKFIL'] });
    expect(second.code).toBe(0);
    expect(second.err).toContain('continuing the backfill');
    const calls = historyCalls().slice(before);
    // One first page in all: the second run went on from the saved cursor.
    expect(calls.filter((c) => !c.args.cursor)).toHaveLength(1);
    expect(calls).toHaveLength(3);
    const done = JSON.parse(readFileSync(join(stateDir, `${TEAM}.json`), 'utf8')) as { channels: Record<string, { done: boolean; messages: number }> };
    expect(done.channels.C0BACKFIL).toMatchObject({ done: true, messages: 451 });
    await incidentResult(h.client, `incident/slack/${TEAM}/C0BACKFIL/${leakTs}/github-pat`);

    const third = await run({ stateDir, channels: ['C0BACKFIL'] });
    expect(third.code).toBe(0);
    expect(historyCalls().slice(before)).toHaveLength(3);
    const restarted = await run({ stateDir, channels: ['C0BACKFIL'], restart: true });
    expect(restarted.code).toBe(0);
    expect(restarted.err).not.toContain('continuing');
    expect(historyCalls().slice(before).filter((c) => !c.args.cursor)).toHaveLength(2);
  });

  it('refuses a bad --since, an unknown channel and a missing token, saying what', async () => {
    expect(() => parseSince('7 days')).toThrow(/--since takes a duration back from now \(30m, 12h, 7d, 2w\) or a date/);
    expect(() => parseSince('2999-01-01')).toThrow(/in the future/);
    expect(parseSince('2d', 10 * DAY)).toBe(8 * DAY);
    await expect(run({ since: 'yesterday' })).rejects.toMatchObject({ name: 'BackfillError', exitCode: 2 });
    await expect(run({ dryRun: true, channels: ['C0NOSUCH1'] })).rejects.toThrow(/unknown channel C0NOSUCH1: not among the \d+ conversations this token can see in T0SENTNL1/);
    const noToken = backfill({ since: '1d', dryRun: true, env: { SLACK_API_URL: h.sim.apiUrl }, stdout: new Sink(), stderr: new Sink() });
    await expect(noToken).rejects.toBeInstanceOf(ConfigError);
    await expect(noToken).rejects.toThrow(/SLACK_ADMIN_TOKEN \(or SLACK_BOT_TOKEN\) is not set/);
    expect(new BackfillError('x', 2).exitCode).toBe(2);
  });
});
