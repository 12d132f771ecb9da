/**
 * The workbench on the shared stack: `sentinel tail` and `sentinel rules try`. A detector runs in
 * this process against the stack's NATS and Temporal; the commands run as real child processes.
 * Records are redacted and filtered by WHERE; nothing is sent while no one listens; a candidate
 * rule file is tried over live events (by the detector) and over Slack history (by the command).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { Detector } from '../../src/detector/detector';
import { DetectorTail, TAIL_HELLO_SUBJECT, TAIL_LISTENER_TTL_MS, tailSubject, type TailMessage, type TailRecord } from '../../src/detector/tail';
import { loadRules } from '../../src/engine/load';
import { silentLogger } from '../../src/log';
import { chatSubject, CHAT_STREAM, DETECTOR_CONSUMER } from '../../src/nats/streams';
import { projectRoot } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN } from '../../src/slack-sim/workspace';
import { eventually } from '../support/harness';
import { emptyChatStreams } from '../support/streams';

const TEAM = 'T0SENTNL1';
const SECRET = 'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const LEAK = `prod token ${SECRET} do not share`;
const CODENAME = 'falcon-4821';
const bin = join(projectRoot, 'bin', 'sentinel.js');

const CANDIDATE = `rules:
  - id: falcon-codename
    description: The unreleased Project Falcon by its build name
    category: policy
    severity: medium
    enabled: false
    match:
      regex: '\\bfalcon-[0-9]{4}\\b'
    actions: [notify]
    tests:
      match: ["the falcon-2024 build is out"]
      no_match: ["falcon heavy"]
`;

/** The same, with a stateful rule over it: two mentions in one channel within ten minutes. */
const STATEFUL = `${CANDIDATE}  - id: falcon-chatter
    description: The Falcon build named twice in one channel within ten minutes
    kind: threshold
    by: channel
    window: 10m
    count: 2
    where: { rules: [falcon-codename] }
    category: policy
    severity: high
`;

/** A `sentinel` child process whose output the test reads while it runs. */
interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number>;
}

function sentinel(args: string[], env: NodeJS.ProcessEnv): Cli {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOG_LEVEL: 'error', ...env }, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe('workbench', () => {
  let nc: NatsConnection;
  let connection: Connection;
  let sim: SlackSimulator;
  const rules = loadRules(join(projectRoot, 'rules'));
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-workbench-'));
  const candidate = join(dir, 'falcon.yaml');
  writeFileSync(candidate, CANDIDATE);
  let detector: Detector | undefined;
  let running: Promise<void> | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: inject('stack').natsUrl });
    connection = await Connection.connect({ address: inject('stack').temporalAddress });
    sim = await new SlackSimulator().start();
  });
  afterAll(async () => {
    await sim?.stop();
    await connection?.close();
    await nc?.drain();
  });
  beforeEach(() => emptyChatStreams(nc));
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await detector?.stop();
    await running;
    detector = undefined;
  });

  const startDetector = () => {
    detector = new Detector({ nc, temporal: new Client({ connection }), taskQueue: `workbench-${randomUUID()}`, rules: () => rules, fingerprint: (v) => `fp-${v.length}`, log: silentLogger });
    running = detector.run();
    return detector;
  };
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const c = sentinel(args, { NATS_URL: inject('stack').natsUrl, ...env });
    children.push(c.child);
    return c;
  };
  const publish = async (user: string, channel: string, text: string) => {
    const { envelope } = sim.postAsUser(user, channel, text);
    await nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    return (envelope.event as { ts: string }).ts;
  };
  const consumerIdle = () =>
    eventually(
      'the detector to have settled every message',
      async () => {
        const info = await (await nc.jetstreamManager()).consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
        return info.num_pending === 0 && info.num_ack_pending === 0 && info;
      },
      60_000,
    );
  /** Everything the detectors send on sentinel.tail.* (announcements aside). */
  const overhear = () => {
    const seen: TailMessage[] = [];
    const sub: Subscription = nc.subscribe('sentinel.tail.*', {
      callback: (_e, m) => {
        if (m.subject !== TAIL_HELLO_SUBJECT) seen.push(JSON.parse(m.string()) as TailMessage);
      },
    });
    return { seen, stop: () => sub.unsubscribe() };
  };

  it('sends no tail record while no one listens', async () => {
    const heard = overhear();
    startDetector();
    for (let i = 0; i < 10; i++) await publish('U0ALICE01', 'C0GENERAL', i % 2 ? LEAK : `lunch ${i}?`);
    await consumerIdle();
    await nc.flush();
    heard.stop();
    expect(detector!.stats.handled).toBe(10);
    expect(heard.seen).toEqual([]);
  });

  it('filters by WHERE, sends verdicts redacted, and forgets a listener that stops announcing', async () => {
    let clock = 1_700_000_000_000;
    const tail = new DetectorTail(nc, silentLogger, () => clock);
    tail.start();
    const id = 'feedfacecafe0001';
    const got: TailMessage[] = [];
    const sub = nc.subscribe(tailSubject(id), { callback: (_e, m) => got.push(JSON.parse(m.string()) as TailMessage) });
    nc.publish(TAIL_HELLO_SUBJECT, JSON.stringify({ v: 1, id, where: "channel = 'C0GENERAL' AND text LIKE '%token%'" }));
    await eventually('the detector to hear the announcement', async () => tail.listening, 5_000);
    const event = (channel: string, text: string) => ({ source: 'slack', team: TEAM, channel, user: 'U0ALICE01', ts: '1700000000.000100', eventType: 'message', text, channelKinds: ['public' as const] });
    const incident = { rule: { id: 'github-pat', severity: 'critical', category: 'secret' }, match: { redacted: 'ghp**********************R8', excerpt: 'prod token ghp***R8 do not share' } };
    tail.offer(event('C0GENERAL', LEAK), [incident as never]);
    tail.offer(event('C0RANDOM1', LEAK), [incident as never]);
    tail.offer(event('C0GENERAL', 'no secrets here'), []);
    await nc.flush();
    await eventually('the record', async () => got.some((m) => m.kind === 'event'), 5_000);
    expect(got.filter((m) => m.kind === 'joined')).toEqual([{ v: 1, kind: 'joined', detector: tail.name, rules: 0, problems: [] }]);
    const records = got.filter((m): m is TailRecord => m.kind === 'event');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ channel: 'C0GENERAL', channelKinds: ['public'], findings: [{ rule: 'github-pat', severity: 'critical', redacted: 'ghp**********************R8' }] });
    expect(JSON.stringify(got)).not.toContain(SECRET);
    // Three announcements missed: forgotten, and the per-event check is false again.
    clock += TAIL_LISTENER_TTL_MS + 1;
    tail.offer(event('C0GENERAL', LEAK), [incident as never]);
    expect(tail.listening).toBe(false);
    await nc.flush();
    expect(got.filter((m) => m.kind === 'event')).toHaveLength(1);
    sub.unsubscribe();
    tail.stop();
  });

  it('sentinel tail prints the events the detector decides, redacted and filtered by --where', async () => {
    startDetector();
    const t = cli(['tail', '--where', "channel = 'C0GENERAL'", '--limit', '2']);
    await eventually('the detector to answer the tail', async () => /detector \S+ is sending events/.test(t.stderr()), 30_000);
    await publish('U0BOB0001', 'C0ENGINEE', LEAK); // another channel: not shown
    const leakTs = await publish('U0ALICE01', 'C0GENERAL', LEAK);
    const cleanTs = await publish('U0ALICE01', 'C0GENERAL', 'standup moved to 10:30');
    expect(await t.exited).toBe(0);
    const lines = t.stdout().trim().split('\n');
    expect(lines[0]).toMatch(/^tailing events as the detectors decide them, where channel = 'C0GENERAL'/);
    expect(lines[1]).toMatch(/^TIME\s+TEAM\/CHANNEL \(KIND\)\s+USER\s+EVENT\s+RULES$/);
    expect(lines[2]).toMatch(new RegExp(`^${new Date(Number(leakTs) * 1000).toISOString().slice(11, 19)}  ${TEAM}/C0GENERAL \\(public\\)\\s+U0ALICE01\\s+message\\s+github-pat \\[critical\\] ghp\\*+7R8 «prod token ghp\\*+7R8 do not share»$`));
    expect(lines[3]).toMatch(new RegExp(`^${new Date(Number(cleanTs) * 1000).toISOString().slice(11, 19)}  ${TEAM}/C0GENERAL \\(public\\)\\s+U0ALICE01\\s+message\\s+clean$`));
    expect(lines[4]).toMatch(/^2 events in [\d.]+ s: 1 with findings, 1 clean; 1 detector$/);
    expect(t.stdout() + t.stderr()).not.toContain(SECRET);
    expect(t.stdout()).not.toContain('C0ENGINEE');
  });

  it('sentinel tail --json writes one record per line and counts on Ctrl-C', async () => {
    startDetector();
    const t = cli(['tail', '--json']);
    await eventually('the detector to answer the tail', async () => /is sending events/.test(t.stderr()), 30_000);
    await publish('U0ALICE01', 'C0GENERAL', LEAK);
    await eventually('a record', async () => t.stdout().includes('\n'), 15_000);
    t.child.kill('SIGINT');
    expect(await t.exited).toBe(0);
    const [record] = t.stdout().trim().split('\n').map((l) => JSON.parse(l) as TailRecord);
    expect(record).toMatchObject({ v: 1, kind: 'event', team: TEAM, channel: 'C0GENERAL', user: 'U0ALICE01', eventType: 'message', findings: [{ rule: 'github-pat', category: 'secret' }] });
    expect(t.stderr()).toMatch(/1 events in [\d.]+ s: 1 with findings, 0 clean; 1 detector/);
    expect(t.stdout() + t.stderr()).not.toContain(SECRET);
  });

  it('sentinel tail refuses a bad WHERE at once with the SQL front end message', async () => {
    const bad = cli(['tail', '--where', "channel = 'C1' AND"]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/^sentinel tail: --where: SQL does not parse: /);
    const unknown = cli(['tail', '--where', "nosuch(text) = 'x'"]);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain('sentinel tail: --where: unsupported function nosuch()');
  });

  it('sentinel rules try --live has the detector evaluate the candidate rules, and opens no incident for them', async () => {
    const d = startDetector();
    const t = cli(['rules', 'try', candidate, '--live', '6s']);
    await eventually('the detector to take the candidate', async () => /detector \S+ is trying 1 rule\b/.test(t.stderr()), 30_000);
    await publish('U0ALICE01', 'C0GENERAL', `the ${CODENAME} build is out`);
    await publish('U0ALICE01', 'C0GENERAL', 'falcon heavy launches today');
    expect(await t.exited).toBe(0);
    expect(t.stdout()).toMatch(/^live\s+\d\d:\d\d:\d\d  T0SENTNL1\/C0GENERAL \(public\)\s+U0ALICE01\s+message\s+falcon-codename \[medium\] f\*{10} «the f\*{10} build is out»$/m);
    expect(t.stdout().match(/^live /gm)).toHaveLength(1);
    expect(t.stderr()).toMatch(/live for 6s, 1 detector: 2 events, 1 would have matched \(falcon-codename 1\)/);
    expect(t.stdout() + t.stderr()).not.toContain(CODENAME);
    await consumerIdle();
    expect(d.stats.started).toBe(0);
  });

  it('sentinel rules try --since reads Slack history, threads included, and shows what would have matched', async () => {
    // A workspace of its own: the other tests' messages are not in its history.
    const slack = await new SlackSimulator().start();
    const parent = slack.postAsUser('U0ALICE01', 'C0ENGINEE', `ship ${CODENAME} on friday`).message;
    slack.postAsUser('U0BOB0001', 'C0ENGINEE', 'falcon heavy is a rocket');
    slack.seedMessage('U0BOB0001', 'C0ENGINEE', `re: ${CODENAME}, confirmed`, { threadTs: parent.ts });
    slack.seedMessage('U0BOB0001', 'C0ENGINEE', `old news: ${CODENAME}`, { at: Date.now() - 2 * 3_600_000 });
    slack.postAsUser('U0BOB0001', 'C0PARTNER', `partner asked about ${CODENAME}`);
    const env = { SLACK_API_URL: slack.apiUrl, SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN };
    const t = cli(['rules', 'try', candidate, '--since', '1h', '--json'], env);
    const code = await t.exited;
    // --channels reads only those.
    const one = cli(['rules', 'try', candidate, '--since', '1h', '--channels', 'C0PARTNER'], env);
    const oneCode = await one.exited;
    await slack.stop();
    expect(code).toBe(0);
    const found = t.stdout().trim().split('\n').map((l) => JSON.parse(l) as { from: string; channel: string; channelKinds: string[]; user: string; tried: { rule: string; redacted: string }[] });
    expect(found).toEqual([
      expect.objectContaining({ from: 'history', channel: 'C0ENGINEE', channelKinds: ['public'], user: 'U0ALICE01', tried: [expect.objectContaining({ rule: 'falcon-codename', redacted: 'f**********' })] }),
      expect.objectContaining({ from: 'history', channel: 'C0ENGINEE', user: 'U0BOB0001' }),
      expect.objectContaining({ from: 'history', channel: 'C0PARTNER', channelKinds: ['public', 'external'], user: 'U0BOB0001' }),
    ]);
    expect(t.stderr()).toMatch(/history since \S+, \d+ channels: 4 events, 3 would have matched \(falcon-codename 3\)/);
    expect(t.stdout() + t.stderr()).not.toContain(CODENAME);
    expect(oneCode).toBe(0);
    expect(one.stdout()).toMatch(/^FROM\s+TIME\s+TEAM\/CHANNEL \(KIND\)/);
    expect(one.stdout()).toMatch(/^history  \d\d:\d\d:\d\d  T\w+\/C0PARTNER \(public,external\)\s+U0BOB0001\s+message\s+falcon-codename \[medium\] f\*{10} «partner asked about f\*{10}»$/m);
    expect(one.stderr()).toMatch(/history since \S+, 1 channel: 1 events, 1 would have matched/);
  });

  it('sentinel rules try runs stateful rules through the correlator evaluator, over history and over live facts', async () => {
    const file = join(dir, 'falcon-chatter.yaml');
    writeFileSync(file, STATEFUL);
    const slack = await new SlackSimulator().start();
    slack.postAsUser('U0ALICE01', 'C0ENGINEE', `ship ${CODENAME} on friday`);
    slack.postAsUser('U0BOB0001', 'C0ENGINEE', `is ${CODENAME} signed?`);
    slack.postAsUser('U0BOB0001', 'C0PARTNER', `partner asked about ${CODENAME}`);
    const h = cli(['rules', 'try', file, '--since', '1h', '--channels', 'C0ENGINEE,C0PARTNER'], { SLACK_API_URL: slack.apiUrl, SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN });
    const code = await h.exited;
    await slack.stop();
    expect(code).toBe(0);
    expect(h.stderr()).toContain('trying 2 rules');
    expect(h.stdout()).toMatch(/^history  MATCH falcon-chatter \[high\] by channel C0ENGINEE: 2 events \(\d\d:\d\d:\d\d T\w+\/C0ENGINEE U0ALICE01 message, \d\d:\d\d:\d\d T\w+\/C0ENGINEE U0BOB0001 message\)$/m);
    expect(h.stderr()).toMatch(/3 events, 3 would have matched \(falcon-codename 3\); stateful matches: falcon-chatter 1/);

    startDetector();
    const t = cli(['rules', 'try', file, '--live', '6s', '--json']);
    await eventually('the detector to take the candidate', async () => /detector \S+ is trying 2 rules/.test(t.stderr()), 30_000);
    await publish('U0ALICE01', 'C0GENERAL', `the ${CODENAME} build is out`);
    await publish('U0CAROL01', 'C0GENERAL', `who signed ${CODENAME}?`);
    expect(await t.exited).toBe(0);
    const lines = t.stdout().trim().split('\n').map((l) => JSON.parse(l) as { from: string; match?: string; by?: string; key?: string; events?: unknown[] });
    expect(lines.filter((l) => l.match)).toEqual([expect.objectContaining({ from: 'live', match: 'falcon-chatter', by: 'channel', key: 'C0GENERAL', events: [expect.objectContaining({ user: 'U0ALICE01' }), expect.objectContaining({ user: 'U0CAROL01' })] })]);
    expect(h.stdout() + h.stderr() + t.stdout() + t.stderr()).not.toContain(CODENAME);
  });

  it('sentinel rules try refuses a bad rule file with the problems rules test reports, and an oversized one', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - id: Bad Id\n    description: x\n    category: policy\n    severity: extreme\n    match: { keywords: [x] }\n    actions: [notify]\n');
    const t = cli(['rules', 'try', bad, '--live', '1s']);
    expect(await t.exited).toBe(2);
    expect(t.stderr()).toContain(`problem: ${bad}:2: rules.0.id: lowercase letters`);
    expect(t.stderr()).toMatch(new RegExp(`problem: ${bad}:5: rules\\.0\\.severity: `));
    expect(t.stderr()).toContain('sentinel rules try: 2 rule file problems; nothing tried');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, CANDIDATE + `# ${'x'.repeat(70_000)}\n`);
    const b = cli(['rules', 'try', big, '--live', '1s']);
    expect(await b.exited).toBe(2);
    expect(b.stderr()).toMatch(/big\.yaml is \d+ bytes; rules try takes files up to 65536 bytes/);
  });
});
