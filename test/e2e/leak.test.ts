/**
 * Secrets never at rest: one secret per detector family is leaked in chat and runs through the
 * whole product, each part its own process (bridge, detector, remediation worker, KMS worker,
 * codec server), at debug log level. Then everything Sentinel stored or printed is exported the way
 * an operator or an attacker would: every workflow history and description through the Temporal
 * CLI, the AUDIT stream, the logs of every process (the stack's servers included). No secret may
 * appear there, neither as text nor as base64. The histories, opened with the codec server, still
 * show what an operator needs: the redacted match, the excerpt and the fingerprint. Some leaks go
 * through the other removals (redact, tombstone, quarantine with restore and discard): the redacted
 * text an incident carries, and the sealed copies the QUARANTINE stream keeps (read back and on disk),
 * must hold no secret either.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isSeq, parseDocument, type YAMLMap } from 'yaml';
import { signature } from '../../src/bridge/verify';
import { payloadsFromJson } from '../../src/codec-server/server';
import { loadConfig } from '../../src/config';
import { fingerprinter } from '../../src/crypto/fingerprint';
import { generateKey } from '../../src/crypto/keys';
import { AUDIT_STREAM, CHAT_STREAM, DEADLETTER_STREAM, chatSubject } from '../../src/nats/streams';
import { projectRoot, sentinelHome } from '../../src/paths';
import { GithubSimulator } from '../../src/github-sim/server';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_APP_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import { freePort } from '../../src/stack/stack';
import { CREDENTIAL_RULES, QUARANTINE_STREAM, quarantineSubject, type IncidentState } from '../../contract';
import { rng, secretValues, sentenceFor } from '../corpus/generators';
import { eventually, terminateRunning } from '../support/harness';
import { startProcess, type SentinelProcess } from '../support/processes';
import { testClient, testCodec, testSecrets } from '../support/secrets';
import { emptyChatStreams } from '../support/streams';

const run = promisify(execFile);
const TEAM = 'T0SENTNL1';
const USERS = ['U0ALICE01', 'U0BOB0001', 'U0CAROL01'];
const CHANNELS = ['C0GENERAL', 'C0ENGINEE'];
const SIGNING_SECRET = 'leak-test-signing-secret';

/**
 * The detector families planted (an id's first word: aws, github, stripe, …): every family of the
 * first pack, and some of each family file since, in their own shapes (headers, key files, PII);
 * each family's first detector deletes (a notify-only one, such as a Sentry DSN, leaves the message).
 * All 180 families would take minutes of CLI exports for no new kind of path through the system.
 */
const FAMILIES = new Set([
  'aws', 'github', 'gitlab', 'slack', 'stripe', 'google', 'gcp', 'twilio', 'sendgrid', 'npm', 'pypi', 'openai', 'anthropic', 'azure',
  'heroku', 'datadog', 'shopify', 'mailgun', 'mailchimp', 'digitalocean', 'linear', 'vault', 'doppler', 'databricks', 'atlassian',
  'discord', 'telegram', 'square', 'private', 'jwt', 'password', 'connection', 'generic', 'credit', 'us', 'iban',
  'huggingface', 'age', 'onepassword', 'cloudflare', 'grafana', 'newrelic', 'http', 'kubeconfig', 'uk', 'aadhaar',
]);

/** One secret per planted family. */
function plantedSecrets(): { family: string; detector: string; secret: string }[] {
  const seen = new Set<string>();
  const out: { family: string; detector: string; secret: string }[] = [];
  const r = rng(20261121);
  for (const [detector, make] of Object.entries(secretValues)) {
    const family = detector.split('-')[0]!;
    if (seen.has(family) || !FAMILIES.has(family)) continue;
    seen.add(family);
    out.push({ family, detector, secret: make(r) });
  }
  return out;
}

/**
 * The removals some planted leaks go through instead of delete, in this order: each is given to the
 * next planted detector (past the first three, which other checks use) that is not a credential
 * rule and deletes in the pack. Quarantine twice: one is restored, the other discarded.
 */
const REMOVALS = ['redact', 'tombstone', 'quarantine', 'quarantine'] as const;

/** The pack's rules/ copied to a new folder, with the given rules' `delete` replaced by another removal. */
function packWithRemovals(planted: { detector: string }[]): { dir: string; removal: Map<string, (typeof REMOVALS)[number]> } {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-leak-rules-'));
  const docs = readdirSync(join(projectRoot, 'rules')).map((name) => ({ name, doc: parseDocument(readFileSync(join(projectRoot, 'rules', name), 'utf8')) }));
  const deletes = new Map<string, YAMLMap>();
  for (const { doc } of docs) {
    const rules = doc.get('rules');
    if (!isSeq(rules)) continue;
    for (const item of rules.items as YAMLMap[]) {
      const actions = item.get('actions');
      if (isSeq(actions) && actions.toJSON().includes('delete')) deletes.set(String(item.get('id')), item);
    }
  }
  const removal = new Map<string, (typeof REMOVALS)[number]>();
  const candidates = planted.slice(3).filter((p) => !CREDENTIAL_RULES[p.detector] && deletes.has(p.detector));
  REMOVALS.forEach((action, i) => {
    const { detector } = candidates[i]!;
    const item = deletes.get(detector)!;
    item.set('actions', (item.get('actions') as { toJSON(): string[] }).toJSON().map((a) => (a === 'delete' ? action : a)));
    removal.set(detector, action);
  });
  for (const { name, doc } of docs) writeFileSync(join(dir, name), doc.toString());
  return { dir, removal };
}

/** How each family is said in chat: as the corpus says it (some detectors need their label next to the value). */
function sentence(detector: string, secret: string): string {
  return sentenceFor(detector, secret, rng(detector.length));
}

/** Slack escapes &, < and > in message text: a secret may be stored in that form too. */
const slackEscaped = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The base64 of `value` wherever it starts in a longer byte string: the stable middle of each of the 3 alignments. */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [];
  for (let k = 0; k < 3; k++) {
    const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const stableEnd = Math.floor((k + bytes.length) / 3) * 4;
    const form = enc.slice(k === 0 ? 0 : k === 1 ? 2 : 3, stableEnd);
    if (form.length >= 8) forms.push(form, form.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return forms;
}

/** Every form in which `secret` (or a telling piece of it) could sit in an export. */
function needles(secret: string): string[] {
  const pieces = [secret, slackEscaped(secret)];
  // A piece from the middle, in case only part of a long secret was copied somewhere.
  if (secret.length >= 32) pieces.push(secret.slice(Math.floor(secret.length / 2) - 8, Math.floor(secret.length / 2) + 8));
  const forms = pieces.flatMap((p) => [p, JSON.stringify(p).slice(1, -1), ...base64Forms(p)]);
  return [...new Set(forms)];
}

/** Strings in a JSON document that look like base64, decoded: payload data, headers, anything encoded. */
function decodedStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.length >= 16 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) out.push(Buffer.from(value, 'base64').toString('latin1'));
  } else if (Array.isArray(value)) {
    for (const v of value) decodedStrings(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) decodedStrings(v, out);
  }
  return out;
}

interface Export {
  name: string;
  text: string;
}

/** Where each secret was found: `family in export`, empty when clean. */
function hits(exports: Export[], secrets: { family: string; secret: string }[]): string[] {
  const found: string[] = [];
  for (const e of exports) {
    let decoded: string[] = [];
    try {
      decoded = decodedStrings(JSON.parse(e.text));
    } catch {
      // Not one JSON document (logs are JSON lines): decode per line.
      decoded = e.text.split('\n').flatMap((l) => {
        try {
          return decodedStrings(JSON.parse(l));
        } catch {
          return [];
        }
      });
    }
    const haystacks = [e.text, ...decoded];
    for (const { family, secret } of secrets) {
      for (const n of needles(secret)) {
        if (haystacks.some((h) => h.includes(n))) {
          found.push(`${family} (${JSON.stringify(n.slice(0, 6))}…) in ${e.name}`);
          break;
        }
      }
    }
  }
  return found;
}

interface JsonPayload {
  metadata: Record<string, string>;
  data?: string;
  /** Where it sits in the history, e.g. events.3.markerRecordedEventAttributes.details.data.payloads.0 */
  path?: string;
}

/** Every payload object ({metadata, data}) in a history export. */
function payloadsIn(value: unknown, path = '', out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(value)) value.forEach((v, i) => payloadsIn(v, `${path}.${i}`, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push({ metadata: o.metadata as Record<string, string>, ...(typeof o.data === 'string' ? { data: o.data } : {}), path });
    else for (const [k, v] of Object.entries(o)) payloadsIn(v, `${path}.${k}`, out);
  }
  return out;
}

/**
 * A decoded payload's text, less the one place a secret may be: the leaked credential an incident
 * carries to its verification and revocation (the input's `credential`, and the arguments of the
 * verifyCredential and revokeCredential activities). Anywhere else it is a leak.
 */
function withoutCredential(events: Record<string, unknown>[], path: string, text: string): { text: string; credential: boolean } {
  const index = Number(/^\.(\d+)\./.exec(path)?.[1]);
  const event = events[index] as { activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } } | undefined;
  const started = /^\.\d+\.workflowExecutionStartedEventAttributes\.input\./.test(path);
  const activity = event?.activityTaskScheduledEventAttributes?.activityType?.name;
  const credentialCall = /^\.\d+\.activityTaskScheduledEventAttributes\.input\./.test(path) && (activity === 'verifyCredential' || activity === 'revokeCredential');
  if (!started && !credentialCall) return { text, credential: false };
  const value = JSON.parse(text) as Record<string, unknown>;
  if (started && 'credential' in value) {
    delete value.credential;
    return { text: JSON.stringify(value), credential: true };
  }
  if (credentialCall) {
    delete value.value;
    delete value.secret;
    return { text: JSON.stringify(value), credential: true };
  }
  return { text, credential: false };
}

const sealedOnly = (ps: JsonPayload[]) => ps.filter((p) => meta(p, 'encoding') === 'binary/encrypted').map(({ metadata, data }) => ({ metadata, data }));

/**
 * Payloads the server must read, hence never encoded: search attributes (indexed for queries), the
 * SDK's own local-activity marker data (sequence number, attempt, activity type and times; the
 * activity's result sits next to it, sealed), and patch markers (the patch id, a constant of the
 * workflow code such as "drain-before-close", written by the SDK's core). None can hold a secret by
 * construction.
 */
function mustBePlain(p: JsonPayload): boolean {
  return (meta(p, 'type') !== undefined && meta(p, 'encoding') === 'json/plain') || /markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(p.path ?? '');
}

const meta = (p: { metadata: Record<string, string> }, k: string): string | undefined => (p.metadata[k] ? Buffer.from(p.metadata[k], 'base64').toString() : undefined);

describe('secrets never at rest', () => {
  const stack = inject('stack');
  const temporalCli = join(sentinelHome, 'venv', 'bin', 'temporal');
  const planted = plantedSecrets();
  const { dir: rulesDir, removal } = packWithRemovals(planted);
  const taskQueue = `leak-${randomUUID()}`;
  /** The QUARANTINE stream while the quarantined leaks waited for review: each stored message, and the stream's files on disk. */
  const quarantineExports: Export[] = [];
  let sim: SlackSimulator;
  let github: GithubSimulator;
  let nc: NatsConnection;
  let client: Client;
  let env: Record<string, string>;
  let bridgeUrl: string;
  let codecUrl: string;
  const processes: SentinelProcess[] = [];
  const byName = (name: string) => processes.filter((p) => p.name === name).at(-1)!;
  const posted: { family: string; channel: string; ts: string }[] = [];

  const temporal = async (args: string[]) => (await run(temporalCli, [...args, '--address', stack.temporalAddress, '--output', 'json'], { maxBuffer: 64 << 20 })).stdout;
  const incidents = async () => {
    const list: { id: string; status: string }[] = [];
    for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND WorkflowType = 'incidentWorkflow'` })) list.push({ id: w.workflowId, status: w.status.name });
    return list;
  };
  const start = async (name: string, entry: string, ready: string, extra: Record<string, string> = {}) => {
    const p = startProcess(name, entry, { ...env, ...extra });
    processes.push(p);
    await p.waitFor(ready, 120_000);
    return p;
  };

  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    github = await new GithubSimulator().start();
    nc = await connect({ servers: stack.natsUrl });
    await emptyChatStreams(nc, { recreate: false });
    client = await testClient();
    const bridgePort = await freePort();
    const codecPort = await freePort();
    bridgeUrl = `http://127.0.0.1:${bridgePort}/slack/events`;
    codecUrl = `http://127.0.0.1:${codecPort}`;
    env = {
      LOG_LEVEL: 'debug',
      TEMPORAL_ADDRESS: stack.temporalAddress,
      NATS_URL: stack.natsUrl,
      SLACK_API_URL: sim.apiUrl,
      SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
      SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      BRIDGE_PORT: String(bridgePort),
      SENTINEL_TASK_QUEUE: taskQueue,
      SENTINEL_KMS_TASK_QUEUE: `${taskQueue}-kms`,
      SENTINEL_SECURITY_CHANNEL: 'C0SECURIT',
      SLACK_MAX_CALLS_PER_SECOND: '100',
      SLACK_RATE_LIMITS: '*=100/s',
      AWS_ENDPOINT_URL_KMS: stack.kmsEndpoint,
      AWS_ENDPOINT_URL_IAM: stack.kmsEndpoint,
      AWS_ENDPOINT_URL_STS: stack.kmsEndpoint,
      GITHUB_API_URL: github.url,
      SENTINEL_CREDENTIALS_TASK_QUEUE: `${taskQueue}-credentials`,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      SENTINEL_CODEC_SERVER_PORT: String(codecPort),
      SENTINEL_RULES_DIR: rulesDir,
      ...testSecrets(),
    };
    // One after another: tsx and the workflow bundle each take a core for a few seconds.
    await start('worker', 'src/worker/main.ts', 'worker running');
    await start('kms-worker', 'src/worker/kms-main.ts', 'KMS worker running');
    await start('detector', 'src/detector/main.ts', 'detector consuming');
    // The bridge takes every event twice, over HTTP and over Socket Mode (one stream message each, by event id).
    await start('bridge', 'src/bridge/main.ts', 'Socket Mode connected', { SLACK_APP_TOKEN: SIM_APP_TOKEN });
    await start('codec-server', 'src/codec-server/main.ts', 'codec server listening');
    sim.subscribe({ url: bridgeUrl, signingSecret: SIGNING_SECRET });
  }, 300_000);

  afterAll(async () => {
    sim?.subscribe(undefined);
    await Promise.all(processes.map((p) => p.stop()));
    // Offender workflows are per user, not per task queue: leave none running for the suites after this one.
    if (client) await terminateRunning(client, taskQueue);
    await client?.connection.close();
    await nc?.drain();
    await sim?.stop();
    await github?.stop();
  });

  it('runs every planted leak to a resolved incident', async () => {
    expect(planted.length).toBeGreaterThanOrEqual(30);
    planted.forEach(({ family, detector, secret }, i) => {
      const channel = CHANNELS[i % CHANNELS.length]!;
      const { message } = sim.postAsUser(USERS[i % USERS.length]!, channel, sentence(detector, secret));
      posted.push({ family, channel, ts: message.ts });
    });
    // One secret leaks twice, by someone else elsewhere: its two incidents must share a fingerprint.
    const again = planted[2]!;
    const { message: repeat } = sim.postAsUser('U0CAROL01', 'C0GENERAL', `reposting: ${again.secret}`);
    posted.push({ family: again.family, channel: 'C0GENERAL', ts: repeat.ts });
    // Bad input carrying secrets too: a signed request that is not JSON, and an event whose user is not an id.
    const badJson = `{"type":"event_callback","event":{"text":"${planted[0]!.secret}"`;
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(bridgeUrl, { method: 'POST', body: badJson, headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': signature(SIGNING_SECRET, ts, badJson) } });
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain(planted[0]!.secret);
    await nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), new TextEncoder().encode(JSON.stringify({ type: 'message', team: TEAM, channel: 'C0GENERAL', ts: '1.000001', user: `U1 ${planted[1]!.secret}`, text: planted[1]!.secret })));

    // Deleted, quarantined, or (redact, tombstone) still there without the secret.
    const secretOf = (family: string) => planted.find((p) => p.family === family)!;
    const removed = (p: (typeof posted)[number]) => {
      const m = sim.workspace.find(p.channel, p.ts);
      const kept = removal.get(secretOf(p.family).detector);
      return m === undefined || ((kept === 'redact' || kept === 'tombstone') && m.edited !== undefined && !m.text.includes(secretOf(p.family).secret));
    };
    await eventually('every leaked message to be removed', () => posted.every(removed), 180_000);
    const edited = posted.filter((p) => sim.workspace.find(p.channel, p.ts) !== undefined).map((p) => sim.workspace.find(p.channel, p.ts)!.text);
    expect(edited.some((t) => t.startsWith(':no_entry: This message was removed by Sentinel: '))).toBe(true);
    expect(edited.some((t) => /\*{6}/.test(t) && !t.startsWith(':no_entry:'))).toBe(true);

    // The quarantined leaks wait for review, their text sealed in QUARANTINE. Their stored bytes are
    // kept for the search below, then one is restored (re-posted with attribution) and one discarded.
    const quarantined = [...removal].filter(([, a]) => a === 'quarantine').map(([detector]) => detector);
    const waiting = await eventually(
      'the quarantined leaks to await review',
      async () => {
        const list = (await incidents()).filter((w) => quarantined.some((d) => w.id.endsWith(`/${d}`)));
        if (list.length < quarantined.length) return undefined;
        const states = await Promise.all(list.map((w) => client.workflow.getHandle(w.id).query<IncidentState>('state').catch(() => undefined)));
        return states.every((st) => st?.status === 'awaiting_review') && list.map((w) => w.id);
      },
      120_000,
    );
    const jsm = await nc.jetstreamManager();
    for (const id of waiting) {
      const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: quarantineSubject(id) });
      quarantineExports.push({ name: `QUARANTINE message of ${id}`, text: `${Buffer.from(m.data).toString('latin1')}\n${Buffer.from(m.data).toString('base64')}\n${JSON.stringify([...m.header.keys()].map((k) => [k, m.header.get(k)]))}` });
    }
    // The stream's message blocks on the NATS server's disk, as written.
    await new Promise((r) => setTimeout(r, 1500));
    const storeFiles = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? storeFiles(join(dir, e.name)) : [join(dir, e.name)]));
    const onDisk = storeFiles(join(inject('stackDir'), 'data')).filter((f) => f.includes(`${QUARANTINE_STREAM}/msgs/`));
    expect(onDisk.length).toBeGreaterThan(0);
    for (const f of onDisk) quarantineExports.push({ name: `QUARANTINE file ${f}`, text: readFileSync(f).toString('latin1') });
    const [restoreId, discardId] = waiting;
    await client.workflow.getHandle(restoreId!).executeUpdate('restore', { args: [{ by: 'U0ADMIN01', reason: 'leak test: restore' }] });
    await client.workflow.getHandle(discardId!).executeUpdate('discard', { args: [{ by: 'U0ADMIN01', reason: 'leak test: discard' }] });
    // Each message opened at least one incident (a few match two rules), and every incident closed.
    const opened = (list: { id: string }[]) => posted.every((p) => list.some((w) => w.id.startsWith(`incident/slack/${TEAM}/${p.channel}/${p.ts}/`)));
    const done = await eventually(
      'every incident to close',
      async () => {
        const list = await incidents();
        return opened(list) && list.every((w) => w.status === 'COMPLETED') ? list : undefined;
      },
      120_000,
    );
    expect(done.length).toBeGreaterThanOrEqual(posted.length);
    await byName('detector').waitFor('malformed event dead-lettered', 30_000);
    // Both ingest paths carried the leaks.
    const socketAcked = new Set(sim.socketMode.deliveries.filter((d) => d.acked).map((d) => d.eventId));
    const httpStored = new Set(sim.deliveries.filter((d) => d.status === 200).map((d) => d.eventId));
    expect(socketAcked.size).toBeGreaterThanOrEqual(posted.length);
    expect(httpStored.size).toBeGreaterThanOrEqual(posted.length);
    // The restored leak is back in its channel once, from the bot; the discarded one is not; both copies are gone.
    const restoredFamily = planted.find((p) => restoreId!.endsWith(`/${p.detector}`))!;
    const discardedFamily = planted.find((p) => discardId!.endsWith(`/${p.detector}`))!;
    const reposts = (secret: string) => CHANNELS.flatMap((c) => sim.workspace.history(c)).filter((m) => m.text.startsWith(':leftwards_arrow_with_hook: Restored by Sentinel') && m.text.includes(secret));
    expect(reposts(restoredFamily.secret)).toHaveLength(1);
    expect(reposts(discardedFamily.secret)).toHaveLength(0);
    for (const id of waiting) await expect(jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: quarantineSubject(id) })).rejects.toThrow();
  }, 300_000);

  it('leaves no secret, as text or base64, in histories, descriptions, search attributes, the AUDIT stream or any log', async () => {
    const workflows: string[] = [];
    for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) workflows.push(w.workflowId);
    expect(workflows.length).toBeGreaterThan(planted.length); // incidents and offender workflows
    const exports: Export[] = [];
    for (const id of workflows) {
      exports.push({ name: `history of ${id}`, text: await temporal(['workflow', 'show', '--workflow-id', id]) });
      exports.push({ name: `description of ${id}`, text: await temporal(['workflow', 'describe', '--workflow-id', id]) });
    }
    exports.push({ name: 'workflow list', text: await temporal(['workflow', 'list', '--query', `TaskQueue = '${taskQueue}'`]) });

    const jsm = await nc.jetstreamManager();
    const audit = await jsm.streams.info(AUDIT_STREAM);
    const records: string[] = [];
    for (let seq = audit.state.first_seq; seq <= audit.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => undefined);
      if (m) records.push(m.string());
    }
    expect(records.filter((r) => workflows.some((id) => r.includes(id))).length).toBeGreaterThan(planted.length);
    // Each incident's trail opens with its fingerprint, so the trail shows a secret leaking again.
    const opened = records.filter((r) => r.includes('"step":"open"') && workflows.some((id) => r.includes(id)));
    expect(opened.length).toBeGreaterThanOrEqual(posted.length);
    for (const r of opened) expect(r).toMatch(/hmac-sha256:[0-9a-f]{32}/);
    // The security channel's summaries (alone, or several to a digest message) show the excerpt and
    // the fingerprint of every incident, and no secret either.
    const summaries = sim.workspace.history('C0SECURIT').filter((m) => m.text.includes('Sentinel incident'));
    const summarised = new Set(summaries.flatMap((m) => String(m.metadata?.event_payload?.keys ?? '').split(' ')));
    for (const id of workflows.filter((w) => w.startsWith('incident/'))) expect(summarised.has(`${id}#summary`), id).toBe(true);
    const parts = summaries.flatMap((m) => m.text.split(/\n\n(?=:rotating_light: Sentinel incident `)/)).filter((t) => t.startsWith(':rotating_light: Sentinel incident `'));
    expect(parts.length).toBeGreaterThanOrEqual(posted.length);
    for (const t of parts) expect(t).toMatch(/\n> .+\nFingerprint `hmac-sha256:[0-9a-f]{32}`/);
    exports.push({ name: 'security channel', text: JSON.stringify(summaries.map((m) => m.text)) });
    exports.push({ name: 'AUDIT stream', text: records.join('\n') });
    // The sealed copies of the quarantined leaks, as stored while they waited for review.
    expect(quarantineExports.length).toBeGreaterThanOrEqual(3);
    exports.push(...quarantineExports);

    for (const p of processes) exports.push({ name: `${p.name} log`, text: p.output() });
    const logDir = join(inject('stackDir'), 'logs');
    for (const f of readdirSync(logDir)) exports.push({ name: `stack ${f}`, text: readFileSync(join(logDir, f), 'utf8') });

    // The exports are real: they hold the incidents, and the logs say what happened.
    const all = exports.map((e) => e.text).join('\n');
    expect(all).toContain('incidentWorkflow');
    expect(byName('detector').output()).toContain('incident started');
    expect(byName('worker').output().length).toBeGreaterThan(0);
    expect(hits(exports, planted)).toEqual([]);
    const mb = (exports.reduce((n, e) => n + e.text.length, 0) / 1e6).toFixed(1);
    console.log(
      `leak search: ${planted.length} secrets in ${planted.reduce((n, p) => n + needles(p.secret).length, 0)} forms over ${exports.length} exports (${mb} MB: ` +
        `${workflows.length} histories and descriptions, ${records.length} AUDIT records, ${quarantineExports.length} QUARANTINE messages and files, ${processes.length} process logs, the stack's logs): 0 hits`,
    );
    // CHAT is a work queue: the handled events, secrets and all, are gone from it.
    expect((await jsm.streams.info(CHAT_STREAM)).state.messages).toBe(0);
    // The search does find a secret where one is: DEADLETTER keeps the malformed event as it came.
    const dead = await jsm.streams.getMessage(DEADLETTER_STREAM, { last_by_subj: `deadletter.${chatSubject('slack', TEAM, 'message')}` });
    expect(hits([{ name: 'DEADLETTER stream', text: dead.string() }], planted)).toEqual([`${planted[1]!.family} (${JSON.stringify(planted[1]!.secret.slice(0, 6))}…) in DEADLETTER stream`]);
  }, 300_000);

  it('keeps the payloads themselves free of secrets once decoded, and shows the redacted match, excerpt and fingerprint to a token holder', async () => {
    const token = testSecrets().SENTINEL_CODEC_SERVER_TOKEN!;
    const fingerprint = fingerprinter(loadConfig(testSecrets()).fingerprintKey!);
    const decode = (payloads: unknown[], auth?: string) =>
      fetch(`${codecUrl}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify({ payloads }) });

    // Every incident has closed (one opened late, by a second rule on a message, included).
    const list = await eventually('every incident to be closed', async () => {
      const l = await incidents();
      return l.every((w) => w.status === 'COMPLETED') && l;
    });
    const decodedTexts: Export[] = [];
    let sealed = 0;
    let credentialPayloads = 0;
    let checkedStates = 0;
    const mismatched: string[] = [];
    for (const { id } of list) {
      const history = JSON.parse(await temporal(['workflow', 'show', '--workflow-id', id])) as { events: Record<string, unknown>[] };
      const payloads = payloadsIn(history.events);
      const enc = sealedOnly(payloads);
      const paths = payloads.filter((p) => meta(p, 'encoding') === 'binary/encrypted').map((p) => p.path ?? '');
      sealed += enc.length;
      expect(payloads.filter((p) => meta(p, 'encoding') !== 'binary/encrypted' && !mustBePlain(p)).map((p) => p.path)).toEqual([]);
      const res = await decode(enc, token);
      expect(res.status).toBe(200);
      const { payloads: opened } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
      const texts = opened.map((p, i) => withoutCredential(history.events, paths[i]!, Buffer.from(p.data, 'base64').toString('utf8')));
      credentialPayloads += texts.filter((t) => t.credential).length;
      decodedTexts.push({ name: `decoded history of ${id}`, text: texts.map((t) => t.text).join('\n') });

      // The incident's result is its final state.
      const completed = history.events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED') as
        | { workflowExecutionCompletedEventAttributes: { result: { payloads: unknown[] } } }
        | undefined;
      const result = await decode(completed!.workflowExecutionCompletedEventAttributes.result.payloads, token);
      const [state] = payloadsFromJson(await result.json()).map((p) => defaultPayloadConverter.fromPayload(p) as IncidentState);
      expect(state!.status).toBe('resolved');
      expect(state!.match.redacted).toMatch(/\*/);
      expect(state!.match.excerpt).toContain(state!.match.redacted);
      const leak = planted.find((p) => posted.find((q) => id.includes(`/${q.channel}/${q.ts}/`))?.family === p.family)!;
      if (state!.rule.id === leak.detector) {
        // The same secret, fingerprinted again with the key, gives the stored fingerprint.
        // The private-key rule fingerprints the key body between the PEM armour lines.
        const value = leak.detector === 'private-key' ? leak.secret.slice(leak.secret.indexOf('\n') + 1, leak.secret.lastIndexOf('-----END')) : leak.secret;
        if (state!.match.fingerprint !== fingerprint(value)) mismatched.push(`${leak.detector}: ${state!.match.redacted} ${leak.secret.length}`);
        checkedStates += 1;
      }
    }
    expect(sealed).toBeGreaterThan(list.length * 5);
    expect(mismatched).toEqual([]);
    const twice = posted.filter((p) => p.family === planted[2]!.family);
    expect(twice).toHaveLength(2);
    const prints = new Set<string>();
    for (const p of twice) {
      const [w] = list.filter((x) => x.id.startsWith(`incident/slack/${TEAM}/${p.channel}/${p.ts}/${planted[2]!.detector}`));
      const { stdout } = await run(process.execPath, [join(projectRoot, 'bin', 'sentinel.js'), 'incidents', 'show', w!.id], { env: { ...process.env, ...env } });
      prints.add((JSON.parse(stdout) as { state: IncidentState }).state.match.fingerprint!);
    }
    expect(prints.size).toBe(1);
    expect(checkedStates).toBeGreaterThanOrEqual(planted.length - 3);
    expect(hits(decodedTexts, planted)).toEqual([]);
    // The planted GitHub, Slack and AWS credentials were carried, sealed, to their verification.
    expect(credentialPayloads).toBeGreaterThan(0);
    console.log(`decoded through the codec server: ${sealed} sealed payloads of ${list.length} incidents, 0 secrets outside the ${credentialPayloads} credential payloads; ${checkedStates} fingerprints equal the planted secrets' HMAC`);

    // The Temporal CLI, pointed at the codec server with the token, shows the incident decoded.
    const [anyId] = list;
    const viaCli = await temporal(['workflow', 'show', '--workflow-id', anyId!.id, '--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${token}`]);
    const cliPayloads = payloadsIn(JSON.parse(viaCli));
    expect(sealedOnly(cliPayloads)).toEqual([]); // nothing left sealed
    const cliText = cliPayloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString('utf8')).join('\n');
    expect(cliText).toMatch(/"fingerprint":"hmac-sha256:[0-9a-f]{32}"/);
    expect(cliText).toMatch(/"redacted":"[^"]*\*/);
    // Without the token the CLI gets 401s until it gives up; the codec server says why.
    const refusals = () => byName('codec-server').output().split('codec request without a valid token').length - 1;
    const before = refusals();
    const cliWithout = await run(temporalCli, ['workflow', 'show', '--workflow-id', anyId!.id, '--address', stack.temporalAddress, '--output', 'json', '--codec-endpoint', codecUrl]).then(
      (r) => `exit 0: ${r.stdout}`,
      (e: { stderr: string }) => e.stderr,
    );
    expect(cliWithout).toMatch(/^Error:/);
    expect(refusals()).toBeGreaterThan(before);

    // Without the token, or with a wrong one, nothing is decoded.
    const sample = sealedOnly(payloadsIn(JSON.parse(await temporal(['workflow', 'show', '--workflow-id', anyId!.id]))));
    expect((await decode(sample)).status).toBe(401);
    expect((await decode(sample, 'x'.repeat(32))).status).toBe(401);
  }, 300_000);

  it('still reads histories sealed under the old key after a new key becomes active', async () => {
    const before = await incidents();
    const old = before[0]!.id;
    const oldKeys = testSecrets().SENTINEL_CODEC_KEYS!;
    const oldKeyId = oldKeys.split(':')[0]!;
    const rotated = { SENTINEL_CODEC_KEYS: `rotated-b:${generateKey()},${oldKeys}` };
    // Every process that writes payloads moves to the new key; the old one stays listed for reading.
    for (const name of ['worker', 'kms-worker', 'detector', 'codec-server']) await byName(name).stop();
    await start('worker', 'src/worker/main.ts', 'worker running', rotated);
    // The KMS and credential workers open what the workers seal (a leaked credential to verify).
    await start('kms-worker', 'src/worker/kms-main.ts', 'KMS worker running', rotated);
    await start('detector', 'src/detector/main.ts', 'detector consuming', rotated);
    await start('codec-server', 'src/codec-server/main.ts', 'codec server listening', rotated);
    expect(byName('worker').output()).toContain('"codecKey":"rotated-b"');

    // A new incident is sealed under the new key.
    const pat = secretValues['github-pat']!(rng(99));
    const { message } = sim.postAsUser('U0BOB0001', 'C0ENGINEE', `new one: ${pat}`);
    const id = `incident/slack/${TEAM}/C0ENGINEE/${message.ts}/github-pat`;
    await eventually('the new incident to close', async () => (await incidents()).find((w) => w.id === id && w.status === 'COMPLETED'), 60_000);
    const keyIds = (wf: string) => temporal(['workflow', 'show', '--workflow-id', wf]).then((t) => new Set(payloadsIn(JSON.parse(t)).map((p) => meta(p, 'encryption-key-id')).filter(Boolean)));
    expect(await keyIds(id)).toEqual(new Set(['rotated-b']));
    expect(await keyIds(old)).toEqual(new Set([oldKeyId]));

    // The old incident is still readable: a query replays its history on the rotated worker, the CLI decodes the answer.
    const { stdout } = await run(process.execPath, [join(projectRoot, 'bin', 'sentinel.js'), 'incidents', 'show', old], { env: { ...process.env, ...env, ...rotated } });
    const shown = JSON.parse(stdout) as { state: IncidentState };
    expect(shown.state.status).toBe('resolved');
    expect(shown.state.match.fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    // And the codec server with the rotated keys decodes payloads of both keys.
    const token = testSecrets().SENTINEL_CODEC_SERVER_TOKEN!;
    for (const wf of [old, id]) {
      const sealed = sealedOnly(payloadsIn(JSON.parse(await temporal(['workflow', 'show', '--workflow-id', wf]))));
      const res = await fetch(`${codecUrl}/decode`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ payloads: sealed }) });
      expect(res.status).toBe(200);
    }
    // A codec without the old key says which key it is missing.
    const newOnly = testCodec({ SENTINEL_CODEC_KEYS: rotated.SENTINEL_CODEC_KEYS.split(',')[0]! });
    const oldPayload = payloadsIn(JSON.parse(await temporal(['workflow', 'show', '--workflow-id', old]))).find((p) => meta(p, 'encoding') === 'binary/encrypted')!;
    await expect(
      newOnly.decode(payloadsFromJson({ payloads: [{ metadata: oldPayload.metadata, data: oldPayload.data }] })),
    ).rejects.toThrow(`sealed with key "${oldKeyId}", which is not configured`);
  }, 300_000);

  it('keeps every log clean through decoding and rotation too', () => {
    const logs: Export[] = processes.map((p, i) => ({ name: `${p.name} #${i} log`, text: p.output() }));
    const logDir = join(inject('stackDir'), 'logs');
    for (const f of readdirSync(logDir)) logs.push({ name: `stack ${f}`, text: readFileSync(join(logDir, f), 'utf8') });
    expect(logs.filter((l) => l.name.startsWith('worker')).length).toBe(2); // before and after rotation
    expect(byName('codec-server').output()).toContain('payloads decoded');
    expect(hits(logs, [...planted, { family: 'github (after rotation)', secret: secretValues['github-pat']!(rng(99)) }])).toEqual([]);
  });
});
