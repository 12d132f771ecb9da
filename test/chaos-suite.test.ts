/**
 * The fault suite's own parts that need no servers (npm run chaos runs the whole thing): options,
 * the seeded plan, the verdict, the KMS throttling proxy with the real AWS SDK, and the
 * simulator's storms and Slack retries. Seconds.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysOf } from '../chaos/collect';
import { deleteLatency, evaluateRun, failures, formatTable, histogram, pickExamples, type Observed, type PostedMessage } from '../chaos/count';
import { KmsThrottleProxy } from '../chaos/kms-proxy';
import { parseOptions, UsageError } from '../chaos/options';
import { CONFIDENTIAL_RULE, FAULT_ROUND, KMS_RULE, makePlan, SECRET_DETECTORS } from '../chaos/plan';
import { prepareRules, screenWith } from '../chaos/rules';
import { loadRules } from '../src/engine/load';
import { verifySlackRequest } from '../src/bridge/verify';
import { SlackSimulator } from '../src/slack-sim/server';
import { SimControl } from '../src/slack-sim/control';
import { SIM_ADMIN_TOKEN } from '../src/slack-sim/workspace';

describe('chaos options', () => {
  it('defaults to a full run and sizes --short for CI', () => {
    expect(parseOptions([], 42)).toMatchObject({ leaks: 300, clean: 3000, seed: 42, short: false, keep: false });
    expect(parseOptions(['--short', '--seed', '7', '--keep'])).toMatchObject({ leaks: 40, clean: 400, seed: 7, short: true, keep: true });
    expect(parseOptions(['--leaks=12', '--clean', '0'])).toMatchObject({ leaks: 12, clean: 0 });
  });

  it('refuses what it does not understand, saying what was wrong', () => {
    expect(() => parseOptions(['--leaks', 'many'])).toThrow(/--leaks needs a whole number/);
    expect(() => parseOptions(['--fast'])).toThrow(UsageError);
  });
});

describe('chaos plan', () => {
  const rules = loadRules(prepareRules(mkdtempSync(join(tmpdir(), 'chaos-rules-'))));
  const screen = screenWith(rules);
  const opts = { leaks: 40, clean: 120, seed: 11, short: true, postSeconds: 60 };

  it('turns on the tutorial KMS rule and nothing else', () => {
    expect(rules.problems).toEqual([]);
    expect(rules.active.some((r) => r.spec.id === KMS_RULE)).toBe(true);
    expect(rules.active.length).toBe(loadRules(join(__dirname, '..', 'rules')).active.length + 1);
  });

  it('is the same plan for the same seed, and another for another seed', () => {
    const a = makePlan(opts, screen);
    expect(makePlan(opts, screen)).toEqual(a);
    expect(makePlan({ ...opts, seed: 12 }, screen).messages.map((m) => m.text)).not.toEqual(a.messages.map((m) => m.text));
  });

  it('posts leaks the rules catch among messages they leave alone, spread over the posting time', () => {
    const plan = makePlan(opts, screen);
    const leaks = plan.messages.filter((m) => m.kind === 'leak');
    expect(leaks).toHaveLength(40);
    expect(plan.messages.filter((m) => m.kind === 'clean')).toHaveLength(120);
    expect(plan.kmsKeys).toBe(6);
    expect(new Set(leaks.map((m) => m.leak))).toEqual(new Set(['secret', 'confidential', 'kms']));
    for (const m of plan.messages.filter((x) => x.kind === 'clean')) expect(screen(m.text, m.channel, m.user)).toEqual([]);
    for (const m of leaks.filter((x) => x.leak === 'secret')) expect(screen(m.text, m.channel, m.user)).toContain(m.detector);
    for (const m of leaks.filter((x) => x.leak === 'confidential')) expect(screen(m.text, m.channel, m.user)).toContain(CONFIDENTIAL_RULE);
    expect(SECRET_DETECTORS.some((d) => leaks.some((m) => m.detector === d))).toBe(true);
    expect(plan.messages.every((m, i) => i === 0 || m.atMs >= plan.messages[i - 1]!.atMs)).toBe(true);
    expect(plan.messages.at(-1)!.atMs).toBeLessThan(60_000);
    expect(leaks.some((m) => m.retryAfterMs !== undefined)).toBe(true);
  });

  it('strikes with every kind of fault once in a short run and twice in a full one, and kills a worker during the burst', () => {
    const short = makePlan(opts, screen);
    expect(short.faults.filter((f) => !f.note).map((f) => f.kind).sort()).toEqual([...FAULT_ROUND].sort());
    const full = makePlan({ ...opts, short: false, postSeconds: 210 }, screen).faults;
    expect(full.filter((f) => !f.note)).toHaveLength(2 * FAULT_ROUND.length);
    for (const k of FAULT_ROUND) expect(full.filter((f) => f.kind === k && !f.note)).toHaveLength(2);
    expect(full.every((f, i) => f.atMs < 210_000 && (i === 0 || f.atMs >= full[i - 1]!.atMs))).toBe(true);
    const during = short.faults.filter((f) => f.note);
    expect(during.map((f) => f.kind)).toEqual(['slack-slow', 'kill-worker']);
    expect(during[0]!.atMs).toBe(short.burst.atMs);
    expect(during[1]!.atMs + during[1]!.waitFor!.maxMs).toBeLessThan(during[0]!.atMs + during[0]!.durationMs);
    // Nothing else strikes from a storm's length before the burst until well after it.
    for (const p of [short, makePlan({ ...opts, short: false, postSeconds: 210 }, screen)]) {
      const storm = p === short ? 8000 : 15_000;
      const others = p.faults.filter((f) => !f.note);
      expect(others.every((f) => f.atMs + (f.kind.startsWith('slack-') ? f.durationMs : 0) < p.burst.atMs || f.atMs > p.burst.atMs + p.burst.size * p.burst.spacingMs + 20_000)).toBe(true);
      expect(others.every((f) => f.atMs < p.burst.atMs - storm || f.atMs > p.burst.atMs)).toBe(true);
    }
  });

  it('posts a fifth of the leaks in one burst from one person in one channel', () => {
    const plan = makePlan(opts, screen);
    const burst = plan.messages.filter((m) => m.burst);
    expect(burst).toHaveLength(11);
    expect(new Set(burst.map((m) => `${m.user} ${m.channel}`))).toEqual(new Set([`${plan.burst.user} ${plan.burst.channel}`]));
    expect(burst.at(-1)!.atMs - burst[0]!.atMs).toBe(10 * plan.burst.spacingMs);
    expect(plan.messages.map((m) => m.index)).toEqual(plan.messages.map((_, i) => i));
  });
});

describe('chaos verdict', () => {
  const id = (ts: string, rule: string) => `incident/slack/T0SENTNL1/C0GENERAL/${ts}/${rule}`;
  const leak = (index: number, ts: string, rule: string, actions: string[], extra: Partial<PostedMessage> = {}): PostedMessage => ({
    index,
    kind: 'leak',
    leak: 'secret',
    user: 'U0ALICE01',
    channel: 'C0GENERAL',
    ts,
    eventId: `Ev${index}`,
    expected: [{ id: id(ts, rule), ruleId: rule, actions }],
    ...extra,
  });
  const posted = [leak(0, '1.000001', 'github-pat', ['delete', 'notify']), leak(1, '1.000002', 'github-pat', ['delete', 'notify']), leak(2, '1.000003', KMS_RULE, ['revoke_kms', 'notify'], { leak: 'kms', kmsKeyId: 'k1' })];
  const clean: PostedMessage = { index: 3, kind: 'clean', user: 'U0BOB0001', channel: 'C0GENERAL', ts: '1.000004', eventId: 'Ev3', expected: [] };
  const ok = (): Observed => ({
    deletes: [
      { channel: 'C0GENERAL', ts: '1.000001' },
      { channel: 'C0GENERAL', ts: '1.000002' },
    ],
    incidents: posted.map((p) => ({ id: p.expected[0]!.id, runId: 'r', status: 'COMPLETED', sentinelStatus: 'resolved' })),
    notices: posted.flatMap((p) => [
      { channel: 'D0ALICE01', key: `${p.expected[0]!.id}#notify` },
      { channel: 'C0SECURIT', key: `${p.expected[0]!.id}#summary` },
    ]),
    kmsRevocations: new Map([['k1', 1]]),
    kmsStates: new Map([['k1', 'Disabled']]),
    audit: new Map(posted.map((p) => [`audit.${p.expected[0]!.id.replaceAll('/', '.')}`, [{ kind: 'decision', step: 'open' }, { kind: 'action', step: 'delete' }, { kind: 'decision', step: 'close' }]])),
    chat: { pending: 0, ackPending: 0, messages: 0 },
    deadletters: [{ subject: 'deadletter.chat.slack.T0SENTNL1.message', reason: 'not valid JSON', body: new Uint8Array([1, 2]) }],
    accepted: new Set(['Ev0', 'Ev1', 'Ev2', 'Ev3']),
  });
  const malformed = [new Uint8Array([1, 2])];

  it('passes a run where every side effect happened exactly once', () => {
    const rows = evaluateRun([...posted, clean], malformed, ok());
    expect(failures(rows)).toEqual([]);
    expect(formatTable(rows)).toContain('✓  message deleted (chat.delete ok:true)');
  });

  it('fails on a duplicate notification, a lost delete, a second revocation, a gap in the trail and leftovers', () => {
    const o = ok();
    o.notices.push({ channel: 'D0ALICE01', key: `${posted[0]!.expected[0]!.id}#notify` });
    o.deletes.pop();
    o.kmsRevocations.set('k1', 2);
    o.audit.set(`audit.${posted[1]!.expected[0]!.id.replaceAll('/', '.')}`, [{ kind: 'decision', step: 'open' }]);
    o.chat = { pending: 2, ackPending: 1, messages: 3 };
    o.deadletters.push({ subject: 'deadletter.chat.slack.T0SENTNL1.message', reason: undefined, body: new Uint8Array([9]) });
    o.deletes.push({ channel: 'C0GENERAL', ts: clean.ts });
    const failing = Object.fromEntries(failures(evaluateRun([...posted, clean], malformed, o)).map((r) => [r.check, r]));
    expect(Object.keys(failing).sort()).toEqual(
      [
        'author notified (DM keyed <id>#notify)',
        'message deleted (chat.delete ok:true)',
        'KMS key revoked (DisableKey ok, key Disabled)',
        'audit trail has open and close decisions',
        'CHAT events left unacked (pending + ack pending)',
        'dead-letters (only the malformed events sent)',
        'clean messages deleted',
      ].sort(),
    );
    expect(failing['author notified (DM keyed <id>#notify)']!.seen).toBe('2×1, 1×2');
    expect(failing['CHAT events left unacked (pending + ack pending)']!.failing).toBe(3);
  });

  it('fails an incident that never started or ended in needs_attention, and one no leak explains', () => {
    const o = ok();
    o.incidents = [
      { id: posted[0]!.expected[0]!.id, runId: 'r', status: 'RUNNING', sentinelStatus: 'needs_attention' },
      { id: posted[2]!.expected[0]!.id, runId: 'r', status: 'COMPLETED', sentinelStatus: 'resolved' },
      { id: id(clean.ts, 'github-pat'), runId: 'r', status: 'COMPLETED', sentinelStatus: 'resolved' },
    ];
    const rows = Object.fromEntries(evaluateRun([...posted, clean], malformed, o).map((r) => [r.check, r]));
    expect(rows['incident started (workflow executions)']!.failing).toBe(1);
    expect(rows['incident resolved']!.seen).toBe('1×1, 1×missing, 1×running/needs_attention');
    expect(rows['incidents no leak explains']!.examples).toEqual([id(clean.ts, 'github-pat')]);
  });

  it('reports acked messages a work queue kept without failing the run for them', () => {
    const o = ok();
    o.chat = { pending: 0, ackPending: 0, messages: 1 };
    const rows = evaluateRun([...posted, clean], malformed, o);
    expect(rows.find((r) => r.check.startsWith('CHAT messages kept'))).toMatchObject({ failing: 1, advisory: true });
    expect(failures(rows)).toEqual([]);
    expect(formatTable(rows)).toMatch(/^! +CHAT messages kept/m);
  });

  it('shows duplicates among the examples even when losses are many more', () => {
    const bad = [...Array.from({ length: 30 }, (_, i) => ({ id: `lost-${i}`, n: 0 })), { id: 'dup-1', n: 2 }, { id: 'dup-2', n: 2 }];
    const shown = pickExamples(bad, (b) => b.n, 1).map((b) => b.id);
    expect(shown).toHaveLength(5);
    expect(shown.slice(0, 2).sort()).toEqual(['dup-1', 'lost-0'].sort());
    expect(shown).toContain('dup-2');
  });

  it('measures post → delete from the first successful delete of each leak', () => {
    const p = [{ ...posted[0]!, postedAt: 1000 }, { ...posted[1]!, postedAt: 2000 }];
    expect(deleteLatency(p, [{ channel: 'C0GENERAL', ts: '1.000001', at: 1500 }, { channel: 'C0GENERAL', ts: '1.000002', at: 5000 }, { channel: 'C0GENERAL', ts: '1.000002', at: 9000 }])).toEqual({ n: 2, median: 3000, p95: 3000, max: 3000 });
    expect(deleteLatency(p, [])).toBeUndefined();
  });

  it('summarises counts most common first', () => {
    expect(histogram([1, 1, 0, 2, 1])).toBe('3×1, 1×0, 1×2');
    expect(histogram([1, 'missing', 1])).toBe('2×1, 1×missing');
    expect(histogram([])).toBe('none');
  });
});

describe('chaos collection', () => {
  it('reads every key a post carries, a digest of several notices included', () => {
    expect(keysOf({ key: 'a#notify' })).toEqual(['a#notify']);
    expect(keysOf({ key: 'a#notify', keys: 'a#notify b#notify c#notify' })).toEqual(['a#notify', 'b#notify', 'c#notify']);
    expect(keysOf(undefined)).toEqual([]);
  });
});

describe('KMS throttling proxy', () => {
  let upstream: Server;
  let proxy: KmsThrottleProxy;
  let kms: KMSClient;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    proxy = await new KmsThrottleProxy(`http://127.0.0.1:${(upstream.address() as { port: number }).port}`).start();
    kms = new KMSClient({ region: 'us-east-1', endpoint: proxy.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    await proxy?.stop();
    await new Promise((r) => upstream?.close(r));
  });

  it('answers ThrottlingException as AWS does while throttling, and forwards otherwise', async () => {
    proxy.throttle(1, 60_000, 1);
    const err = await kms.send(new DisableKeyCommand({ KeyId: 'k-throttled' })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    proxy.throttle(0, 0);
    await kms.send(new DisableKeyCommand({ KeyId: 'arn:aws:kms:us-east-1:123456789012:key/k-done' }));
    expect(proxy.requests.map((r) => [r.operation, r.keyId, r.status, r.throttled])).toEqual([
      ['DisableKey', 'k-throttled', 400, true],
      ['DisableKey', 'k-done', 200, false],
    ]);
    expect([...proxy.succeeded('DisableKey')]).toEqual([['k-done', 1]]);
  });
});

describe('Slack simulator storms and retries', () => {
  let sim: SlackSimulator;
  let control: SimControl;
  let slack: WebClient;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    control = new SimControl(sim.url);
    slack = new WebClient(SIM_ADMIN_TOKEN, { slackApiUrl: sim.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('fails the share of calls a storm asks for, only for its methods and only while it lasts', async () => {
    const storm = await control.storm({ methods: ['chat.delete'], kind: 'error', error: 'internal_error', share: 1, durationMs: 60_000, seed: 3 });
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'hello');
    await expect(slack.chat.delete({ channel: 'C0GENERAL', ts: message.ts })).rejects.toMatchObject({ data: { error: 'internal_error' } });
    await expect(slack.users.info({ user: 'U0ALICE01' })).resolves.toMatchObject({ ok: true });
    await control.calm();
    await expect(slack.chat.delete({ channel: 'C0GENERAL', ts: message.ts })).resolves.toMatchObject({ ok: true });
    expect((await control.storms()).find((s) => s.id === storm.id)).toMatchObject({ hits: 1 });
  });

  it('does a call and answers it only after a while in a slow storm', async () => {
    sim.storm({ methods: ['chat.postMessage'], kind: 'slow', delayMs: 300, share: 1, durationMs: 60_000 });
    const bot = new WebClient('xoxb-sim-sentinel-bot', { slackApiUrl: sim.apiUrl, retryConfig: { retries: 0 } });
    const started = Date.now();
    await bot.chat.postMessage({ channel: 'C0GENERAL', text: 'slow hello' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    sim.calmStorms();
    expect(sim.workspace.history('C0GENERAL')[0]!.text).toBe('slow hello');
  });

  it('answers 429 with Retry-After and HTTP 5xx in storms of those kinds, about the share asked for', async () => {
    sim.storm({ methods: ['*'], kind: 'rate_limited', share: 1, durationMs: 60_000, retryAfter: 3 });
    await expect(slack.users.info({ user: 'U0ALICE01' })).rejects.toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 3 });
    sim.calmStorms();
    const s = sim.storm({ methods: ['users.info'], kind: 'server_error', status: 502, share: 0.5, durationMs: 60_000, seed: 9 });
    const answers = await Promise.all(Array.from({ length: 40 }, () => slack.users.info({ user: 'U0ALICE01' }).then(() => 'ok', (e: { statusCode?: number }) => e.statusCode)));
    sim.calmStorms();
    expect(answers.filter((a) => a === 502).length).toBe(s.hits);
    expect(s.hits).toBeGreaterThan(8);
    expect(s.passes).toBeGreaterThan(8);
  });

  it('delivers an event again as a signed Slack retry, and takes its retry delays from the control surface', async () => {
    const received: { retry: string | undefined; verified: boolean }[] = [];
    const bridge = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const v = verifySlackRequest('secret-1234', req.headers['x-slack-request-timestamp'] as string, req.headers['x-slack-signature'] as string, Buffer.concat(chunks));
        received.push({ retry: req.headers['x-slack-retry-num'] as string | undefined, verified: v.ok });
        res.writeHead(received.length === 1 ? 503 : 200).end();
      });
    });
    await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', () => r()));
    try {
      await control.deliveryRetries([10, 10, 10]);
      await control.subscribe(`http://127.0.0.1:${(bridge.address() as { port: number }).port}/`, 'secret-1234');
      const { envelope } = sim.postAsUser('U0BOB0001', 'C0GENERAL', 'first');
      await sim.settled();
      expect(received).toEqual([
        { retry: undefined, verified: true },
        { retry: '1', verified: true },
      ]);
      const d = await control.redeliver(envelope.event_id, 2, 'http_timeout');
      expect(d).toMatchObject({ eventId: envelope.event_id, attempt: 2, status: 200 });
      expect(received.at(-1)).toEqual({ retry: '2', verified: true });
      expect(await control.status()).toMatchObject({ deliveriesInFlight: 0 });
    } finally {
      await control.subscribe(undefined);
      await new Promise((r) => bridge.close(r));
    }
  });

  it('shows a channel with metadata, and takes new people and channels', async () => {
    await control.addUser({ id: 'U0DAVE001', name: 'dave' });
    await control.addChannel({ id: 'C0CHAOS01', name: 'ops', kind: 'channel' });
    const { message } = await control.post('U0DAVE001', 'C0CHAOS01', 'hi from dave');
    expect((await control.history('C0CHAOS01')).map((m) => m.ts)).toEqual([message.ts]);
    await expect(control.addChannel({ id: 'bad', name: 'x', kind: 'channel' })).rejects.toThrow(/invalid_channel/);
  });
});
