/**
 * `npm run chaos`: Sentinel's own fault suite. A private dev stack (Temporal dev server, NATS
 * JetStream, moto, the Slack simulator) and Sentinel's components as real processes (bridge over
 * the Events API and Socket Mode, detector, two remediation workers, a KMS worker behind a
 * throttling proxy). It posts a few hundred leaks among thousands of ordinary messages while it
 * SIGKILLs and restarts every component and server and throws Slack and KMS storms at them, waits
 * for the pipeline to settle, then counts, per leak, every side effect that must happen exactly
 * once. Exits 1 on any loss or duplicate. See chaos/README.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Client, Connection } from '@temporalio/client';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { loadConfig } from '../src/config';
import { newKeyMaterial } from '../src/crypto/keys';
import { GithubSimulator } from '../src/github-sim/server';
import { formatProblem, loadRules } from '../src/engine/load';
import { CHAT_STREAM, DETECTOR_CONSUMER } from '../src/nats/streams';
import { sentinelHome } from '../src/paths';
import { SimControl } from '../src/slack-sim/control';
import type { EventEnvelope } from '../src/slack-sim/server';
import { SIM_APP_TOKEN } from '../src/slack-sim/workspace';
import { freePort, freePorts, startStack, type RunningStack } from '../src/stack/stack';
import { stackEnv } from '../src/stack/state';
import { ensureToolchain } from '../src/stack/toolchain';
import { codecFrom, dataConverterFor } from '../src/temporal/data-converter';
import { collect, INCIDENT_QUERY, listIncidents, within } from './collect';
import { deleteLatency, evaluateRun, failures, formatTable, type ExpectedIncident, type PostedMessage } from './count';
import { KmsThrottleProxy } from './kms-proxy';
import { namespaceCheck, type NamespaceCheckResult } from './namespace-check';
import { parseOptions, UsageError, type ChaosOptions } from './options';
import { ARN_SLOT, EXTRA_CHANNELS, EXTRA_USERS, makePlan, SECURITY_CHANNEL, TEAM, USERS, type FaultKind, type PlannedFault } from './plan';
import { Component, killAllComponents } from './processes';
import { prepareRules, rulesFor, screenWith } from './rules';

const runStarted = Date.now();
const clock = () => `${String(Math.round((Date.now() - runStarted) / 1000)).padStart(4)}s`;
const say = (line: string) => process.stdout.write(`[${clock()}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Awaits `p`, saying every 8 s that it is still `what`: the run is never silent for long. */
async function heartbeat<T>(what: string, p: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => say(`… still ${what} (${Math.round((Date.now() - started) / 1000)} s)`), 8000);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** The Web API methods Sentinel's workers call: what the Slack storms hit. */
const SLACK_METHODS = ['chat.delete', 'chat.postMessage', 'conversations.open', 'conversations.history', 'users.info'];
/**
 * Slack retries a failed Events API delivery at once, after ~1 min and after ~5 min; the simulator
 * compresses that to seconds. These delays keep it compressed and still outlast a NATS restart.
 */
const DELIVERY_RETRIES_MS = [1000, 5000, 15_000];

/** One fault as it happened. */
interface TimelineEntry {
  /** Seconds after posting started. */
  at: number;
  kind: FaultKind;
  target: string;
  /** Kills: how long it stayed down before the restart began; storms: how long they blew. */
  durationMs: number;
  /** Kills: from the restart until healthy again (the ready line, or the server's health probe). */
  restartMs?: number;
  error?: string;
  detail?: string;
}

interface Ctx {
  opts: ChaosOptions;
  runDir: string;
  stack?: RunningStack;
  components: Component[];
  proxy?: KmsThrottleProxy;
  github?: GithubSimulator;
  nc?: NatsConnection;
  client?: Client;
  /** Faults under way, for progress lines. */
  active: Set<string>;
  stopping: boolean;
}

const ctx: Ctx = { opts: undefined as unknown as ChaosOptions, runDir: '', components: [], active: new Set(), stopping: false };

function progressLine(extra: Record<string, string>): string {
  const faults = ctx.active.size ? ` · now: ${[...ctx.active].join(', ')}` : '';
  return Object.entries(extra)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ') + faults;
}

/** Counts for progress lines; each source may be down (that is the point), so each is optional. */
async function snapshot(sim: SimControl): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const [chat, incidents, closed, deletes] = await Promise.all([
    ctx.nc ? within(1500, ctx.nc.jetstreamManager().then((j) => j.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER))).catch(() => undefined) : undefined,
    ctx.client ? within(1500, ctx.client.workflow.count(INCIDENT_QUERY)).catch(() => undefined) : undefined,
    ctx.client ? within(1500, ctx.client.workflow.count(`${INCIDENT_QUERY} AND ExecutionStatus != 'Running'`)).catch(() => undefined) : undefined,
    within(1500, sim.calls('chat.delete')).catch(() => undefined),
  ]);
  out['CHAT backlog'] = chat ? `${chat.num_pending}+${chat.num_ack_pending} in hand` : '?';
  out.incidents = incidents ? `${incidents.count} started, ${closed?.count ?? '?'} closed` : '? (Temporal unreachable)';
  out.deletes = deletes ? String(deletes.filter((c) => c.ok).length) : '?';
  return out;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  ctx.opts = opts;
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-seed${opts.seed}`;
  const runDir = join(sentinelHome, 'chaos', runId);
  ctx.runDir = runDir;
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  say(`chaos run ${runId}: ${opts.leaks} leaks among ${opts.clean} clean messages, posted over ${opts.postSeconds} s (seed ${opts.seed}${opts.short ? ', --short' : ''})`);
  say(`files: ${relative(process.cwd(), runDir) || runDir}`);

  // Rules, and a plan of texts the real engine agrees on.
  const rulesDir = prepareRules(join(runDir, 'rules'));
  const rules = loadRules(rulesDir);
  for (const p of rules.problems) say(`rule problem (that rule is skipped, as the detector would): ${formatProblem(p)}`);
  const planStarted = Date.now();
  const plan = makePlan(opts, screenWith(rules));
  say(
    `planned ${plan.messages.length} messages (${plan.kmsKeys} naming a KMS key; a burst of ${plan.burst.size} leaks from ${plan.burst.user} at ${plan.burst.atMs / 1000} s), ` +
      `${plan.faults.length} faults and ${plan.malformed.length} malformed events in ${Date.now() - planStarted} ms`,
  );

  // The stack.
  const stackStarted = Date.now();
  const stack = await heartbeat('starting the stack', startStack({ home: sentinelHome, dir: join(runDir, 'stack'), ports: await freePorts(), slackSim: true, progress: (l) => say(`stack: ${l}`) }));
  ctx.stack = stack;
  const e = stack.endpoints;
  const sim = new SimControl(e.slackSimUrl!);
  await sim.deliveryRetries(DELIVERY_RETRIES_MS);
  for (const u of EXTRA_USERS) await sim.addUser(u);
  for (const c of EXTRA_CHANNELS) await sim.addChannel(c);
  const stackSeconds = (Date.now() - stackStarted) / 1000;
  const natsLog = stack.services.find((s) => s.name === 'nats')!.log;
  const natsVersion = /Version:\s+(\S+)/.exec(readFileSync(natsLog, 'utf8'))?.[1] ?? 'unknown';
  say(`stack up in ${stackSeconds.toFixed(1)} s (nats-server ${natsVersion})`);

  // KMS: keys in moto (directly), and the throttling proxy the KMS worker goes through.
  const kms = new KMSClient({ region: 'us-east-1', endpoint: e.kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const keys: { arn: string; keyId: string }[] = [];
  for (let i = 0; i < plan.kmsKeys; i++) {
    const k = (await kms.send(new CreateKeyCommand({ Description: `chaos key ${i}` }))).KeyMetadata!;
    keys.push({ arn: k.Arn!, keyId: k.KeyId! });
  }
  const proxy = await new KmsThrottleProxy(e.kmsEndpoint).start();
  ctx.proxy = proxy;
  say(`created ${keys.length} KMS keys in moto; KMS proxy on ${proxy.url}`);

  // Sentinel's components.
  const secrets = newKeyMaterial();
  const signingSecret = randomBytes(16).toString('hex');
  const bridgePort = await freePort();
  // Leaked GitHub tokens are verified against a GitHub API simulator, not github.com.
  ctx.github = await new GithubSimulator().start();
  const env: Record<string, string> = {
    ...stackEnv(e),
    GITHUB_API_URL: ctx.github.url,
    SENTINEL_CODEC_KEYS: secrets.SENTINEL_CODEC_KEYS,
    SENTINEL_FINGERPRINT_KEY: secrets.SENTINEL_FINGERPRINT_KEY,
    SENTINEL_RULES_DIR: rulesDir,
    SENTINEL_SECURITY_CHANNEL: SECURITY_CHANNEL,
    LOG_LEVEL: 'info',
  };
  const component = (name: string, entry: string, ready: string, extra: Record<string, string> = {}) => {
    const c = new Component({ name, entry, ready, env: { ...env, ...extra } }, join(logDir, `${name}.log`));
    ctx.components.push(c);
    return c;
  };
  component('bridge', 'src/bridge/main.ts', 'Socket Mode connected', { SLACK_SIGNING_SECRET: signingSecret, SLACK_APP_TOKEN: SIM_APP_TOKEN, BRIDGE_PORT: String(bridgePort) });
  const detector = component('detector', 'src/detector/main.ts', 'detector consuming');
  const workers = [component('worker-1', 'src/worker/main.ts', 'worker running'), component('worker-2', 'src/worker/main.ts', 'worker running')];
  const kmsWorker = component('kms-worker', 'src/worker/kms-main.ts', 'KMS worker running', { AWS_ENDPOINT_URL_KMS: proxy.url });
  const componentsStarted = Date.now();
  await heartbeat('starting Sentinel\'s components', Promise.all(ctx.components.map(async (c) => say(`${c.name} ready in ${((await c.start()) / 1000).toFixed(1)} s (pid ${c.pid})`))));
  await sim.subscribe(`http://127.0.0.1:${bridgePort}/slack/events`, signingSecret);
  say(`components up in ${((Date.now() - componentsStarted) / 1000).toFixed(1)} s; the simulator delivers every event over the Events API and Socket Mode`);

  // The run's own clients (they ride out the restarts like Sentinel's do).
  const config = loadConfig({ ...env });
  const client = new Client({ connection: await Connection.connect({ address: e.temporalAddress }), dataConverter: dataConverterFor(codecFrom(config)) });
  ctx.client = client;
  ctx.nc = await connect({ servers: e.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  const nc = ctx.nc;

  // Posting, faults and malformed events, all on the plan's clock.
  const posted: PostedMessage[] = [];
  const timeline: TimelineEntry[] = [];
  const retries: Promise<void>[] = [];
  const retryResults: { eventId: string; status: number | string }[] = [];
  const postStart = Date.now();
  const since = () => Math.round((Date.now() - postStart) / 100) / 10;
  const until = (atMs: number) => sleep(Math.max(0, postStart + atMs - Date.now()));
  const leakCount = plan.messages.filter((m) => m.kind === 'leak').length;
  let postedLeaks = 0;
  let ticking = true;
  const ticker = (async () => {
    while (ticking) {
      await sleep(5000);
      if (!ticking) break;
      const s = await snapshot(sim);
      say(progressLine({ posted: `${posted.length}/${plan.messages.length}`, leaks: `${postedLeaks}/${leakCount}`, ...s }));
    }
  })();

  const posting = (async () => {
    for (const m of plan.messages) {
      await until(m.atMs);
      const text = m.kmsKey !== undefined ? m.text.replace(ARN_SLOT, keys[m.kmsKey]!.arn) : m.text;
      const postedAt = Date.now();
      const { message, envelope } = await sim.post(m.user, m.channel, text);
      const expected: ExpectedIncident[] = rulesFor(rules, envelope).map((r) => ({ id: `incident/slack/${TEAM}/${message.channel}/${message.ts}/${r.ruleId}`, ...r }));
      posted.push({
        index: m.index,
        kind: m.kind,
        ...(m.leak ? { leak: m.leak } : {}),
        user: m.user,
        channel: message.channel,
        ts: message.ts,
        eventId: envelope.event_id,
        ...(m.kmsKey !== undefined ? { kmsKeyId: keys[m.kmsKey]!.keyId } : {}),
        postedAt,
        expected,
      });
      if (m.kind === 'leak') postedLeaks += 1;
      if (m.retryAfterMs !== undefined) {
        retries.push(
          sleep(m.retryAfterMs).then(async () => {
            const d = await sim.redeliver((envelope as EventEnvelope).event_id, 1, 'http_timeout').catch((err: Error) => ({ status: `error: ${err.message}` }));
            retryResults.push({ eventId: envelope.event_id, status: d.status });
          }),
        );
      }
    }
  })();

  const malformedSent = (async () => {
    for (const [i, m] of plan.malformed.entries()) {
      await until(m.atMs);
      for (let attempt = 0; ; attempt++) {
        try {
          const h = natsHeaders();
          h.set('Chaos-Malformed', m.what);
          await nc.jetstream().publish(`chat.slack.${TEAM}.message`, m.body, { msgID: `chaos-malformed-${opts.seed}-${i}`, headers: h, timeout: 3000 });
          say(`published a malformed event straight onto CHAT: ${m.what}`);
          break;
        } catch (err) {
          if (attempt > 30) throw new Error(`could not publish a malformed event: ${(err as Error).message}`);
          await sleep(1000);
        }
      }
    }
  })();

  let workerTurn = 0;
  const busy = new Set<Component>();
  const runFault = async (f: PlannedFault): Promise<void> => {
    await until(f.atMs);
    const entry: TimelineEntry = { at: since(), kind: f.kind, target: '', durationMs: f.durationMs, ...(f.note ? { detail: f.note } : {}) };
    timeline.push(entry);
    const kill = async (target: string, down: () => Promise<void>, up: () => Promise<number>) => {
      entry.target = target;
      ctx.active.add(`${target} down`);
      say(`fault: SIGKILL ${target}${entry.detail ? ` (${entry.detail})` : ''}`);
      try {
        await down();
        await sleep(f.durationMs);
        // As a supervisor would: start it again until it stays up (a component that finds a server
        // it needs down at start exits, by design), at most three times.
        const restarted = Date.now();
        for (let attempt = 1; ; attempt++) {
          try {
            await up();
            entry.restartMs = Date.now() - restarted;
            break;
          } catch (err) {
            const why = (err as Error).message.split('\n').slice(0, 2).join(' ').slice(0, 240);
            say(`fault: start ${attempt} of ${target} failed: ${why}`);
            entry.detail = [entry.detail, `start ${attempt} failed: ${why}`].filter(Boolean).join('; ');
            if (attempt >= 3) throw err;
            await sleep(2000);
          }
        }
        say(`fault: ${target} is back, healthy ${(entry.restartMs / 1000).toFixed(1)} s after its restart`);
      } finally {
        ctx.active.delete(`${target} down`);
      }
    };
    const storm = async (target: string, start: () => Promise<unknown>) => {
      entry.target = target;
      ctx.active.add(target);
      say(`fault: ${target} for ${f.durationMs / 1000} s`);
      await start();
      await sleep(f.durationMs);
      ctx.active.delete(target);
    };
    const component = async (c: Component) => {
      if (f.waitFor) {
        // Strike while the burst's notifications are in flight: once some DMs to its author have gone out.
        const im = `D${f.waitFor.user.slice(1)}`;
        const from = Date.now();
        let sent = 0;
        while (Date.now() - from < f.waitFor.maxMs) {
          sent = ((await within(2000, sim.calls('chat.postMessage')).catch(() => [])) as { args: { channel?: unknown }; at: number }[]).filter((x) => x.args.channel === im && x.at >= postStart + f.atMs - 1000).length;
          if (sent >= f.waitFor.calls) break;
          await sleep(200);
        }
        entry.at = since();
        entry.detail = `${f.note}; struck ${((Date.now() - from) / 1000).toFixed(1)} s in, after ${sent} DMs to ${f.waitFor.user} had been sent`;
      }
      busy.add(c);
      try {
        await kill(c.name, () => c.kill('SIGKILL'), () => c.start());
      } finally {
        busy.delete(c);
      }
    };
    try {
      switch (f.kind) {
        case 'kill-detector':
          return await component(detector);
        case 'kill-worker': {
          // The next worker in turn that is up (the other may still be restarting from an earlier kill).
          const up = [0, 1].map((k) => workers[(workerTurn + k) % workers.length]!).find((w) => !busy.has(w) && w.running);
          workerTurn += 1;
          if (!up) throw new Error('no remediation worker is up to kill');
          return await component(up);
        }
        case 'kill-kms-worker':
          return await component(kmsWorker);
        case 'kill-nats':
          return await kill('nats-server', () => stack.kill('nats'), () => stack.start('nats'));
        case 'kill-temporal':
          return await kill('temporal dev server', () => stack.kill('temporal'), () => stack.start('temporal'));
        case 'slack-429':
          return await storm(`Slack 429 storm (${f.share! * 100}% of calls)`, () => sim.storm({ methods: SLACK_METHODS, kind: 'rate_limited', share: f.share!, durationMs: f.durationMs, retryAfter: 1, seed: f.seed! }));
        case 'slack-5xx':
          return await storm(`Slack HTTP 503 storm (${f.share! * 100}%)`, () => sim.storm({ methods: SLACK_METHODS, kind: 'server_error', status: 503, share: f.share!, durationMs: f.durationMs, seed: f.seed! }));
        case 'slack-error':
          return await storm(`Slack ok:false internal_error storm (${f.share! * 100}%)`, () =>
            sim.storm({ methods: SLACK_METHODS, kind: 'error', error: 'internal_error', share: f.share!, durationMs: f.durationMs, seed: f.seed! }),
          );
        case 'slack-slow':
          return await storm(`Slack slow chat.postMessage (answers after 2 s)`, () => sim.storm({ methods: ['chat.postMessage'], kind: 'slow', delayMs: 2000, share: f.share!, durationMs: f.durationMs, seed: f.seed! }));
        case 'kms-throttle':
          return await storm(`KMS ThrottlingException (${f.share! * 100}%)`, async () => proxy.throttle(f.share!, f.durationMs, f.seed));
      }
    } catch (err) {
      entry.error = (err as Error).message.split('\n')[0];
      say(`fault ${f.kind} went wrong: ${entry.error}`);
    }
  };
  const faults = Promise.all(plan.faults.map(runFault));

  await posting;
  say(`posted all ${posted.length} messages in ${since()} s; waiting for the faults still under way and the Slack retries`);
  await heartbeat('waiting for faults and Slack retries', Promise.all([faults, malformedSent, Promise.all(retries)]));
  const postSeconds = since();

  // Alongside the settling: a detector on a namespace without Sentinel's search attributes.
  const tools = await ensureToolchain(sentinelHome);
  const nsLeaks = plan.messages.filter((m) => m.kind === 'leak' && m.leak !== 'kms').slice(0, 4).map((m) => m.text);
  const nsClean = plan.messages.filter((m) => m.kind === 'clean').slice(0, 2).map((m) => m.text);
  const nsCheck: Promise<NamespaceCheckResult> = namespaceCheck({
    temporalAddress: e.temporalAddress,
    natsServer: tools.natsServer,
    dir: join(runDir, 'namespace-check'),
    env: { ...env },
    leakTexts: nsLeaks,
    cleanTexts: nsClean,
    progress: say,
  });

  // Quiescence: nothing in flight anywhere for three polls in a row, or the timeout.
  say(`waiting for quiescence (at most ${opts.quietTimeoutSeconds} s): deliveries done, CHAT drained, every incident closed or waiting for an operator`);
  const quietStarted = Date.now();
  let calm = 0;
  let pending = '';
  let lastSaid = 0;
  while (Date.now() - quietStarted < opts.quietTimeoutSeconds * 1000) {
    await sleep(3000);
    const status = await within(3000, sim.status()).catch(() => undefined);
    const chat = await within(3000, nc.jetstreamManager().then((j) => j.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER))).catch(() => undefined);
    const running = await within(10_000, listIncidents(client, `${INCIDENT_QUERY} AND ExecutionStatus = 'Running'`)).catch(() => undefined);
    // Incidents waiting for an operator (an approval, a quarantine review, a retry) are not moving.
    const moving = running?.filter((r) => r.sentinelStatus !== 'needs_attention' && r.sentinelStatus !== 'awaiting_approval' && r.sentinelStatus !== 'awaiting_review');
    const stuck = running ? running.length - moving!.length : 0;
    const parts = [
      status ? `${status.deliveriesInFlight} Events API deliveries and ${status.socketUnacked} Socket Mode envelopes in flight` : 'simulator status unknown',
      chat ? `CHAT ${chat.num_pending} pending + ${chat.num_ack_pending} in hand` : 'CHAT unknown',
      running ? `${moving!.length} incidents running, ${stuck} waiting for an operator` : 'incidents unknown',
    ];
    pending = parts.join('; ');
    const quiet = status?.deliveriesInFlight === 0 && status.socketUnacked === 0 && chat?.num_pending === 0 && chat.num_ack_pending === 0 && moving?.length === 0;
    calm = quiet ? calm + 1 : 0;
    if (Date.now() - lastSaid > 5000 || calm >= 3) {
      say(`settling: ${pending}${quiet ? ` (quiet ${calm}/3)` : ''}`);
      lastSaid = Date.now();
    }
    if (calm >= 3) break;
  }
  const quietSeconds = (Date.now() - quietStarted) / 1000;
  const quiescent = calm >= 3;
  if (!quiescent) say(`NOT quiescent after ${opts.quietTimeoutSeconds} s; still pending: ${pending}. Counting anyway.`);
  ticking = false;
  await ticker;

  // Count.
  const observed = await heartbeat('collecting', collect({ sim, client, nc, proxy, kms, keyIds: keys.map((k) => k.keyId), users: USERS, securityChannel: SECURITY_CHANNEL, progress: say }));
  const ns = await heartbeat('waiting for the namespace check (a detector on a namespace without search attributes)', nsCheck);
  say(`namespace check: ${ns.ok ? 'passed' : 'FAILED'} (${ns.outcome}): ${ns.detail}`);

  // Why each failing incident failed: its own state (the query), or what the detector said about it.
  const notes = new Map<string, string>();
  const detectorLog = readFileSync(detector.logFile, 'utf8');
  const diagnose = (id: string) => notes.get(id);
  let rows = evaluateRun(posted, plan.malformed.map((m) => m.body), observed);
  const failingIds = new Set(rows.flatMap((r) => r.examples.map((x) => x.split(' → ')[0]!)).filter((x) => x.startsWith('incident/')));
  for (const id of failingIds) {
    const state = await within(5000, client.workflow.getHandle(id).query<{ status: string; steps: { step: string; outcome: string; detail?: string }[]; failed?: { step: string; reason: string } }>('state')).catch(
      (err: Error) => err,
    );
    if (!(state instanceof Error)) {
      notes.set(id, `state ${state.status}; steps ${state.steps.map((s) => `${s.step}:${s.outcome}`).join(' ')}${state.failed ? `; failed ${state.failed.step}: ${state.failed.reason}` : ''}`);
    } else {
      const p = posted.find((x) => x.expected.some((y) => y.id === id));
      const mentions = detectorLog.split('\n').filter((l) => l.includes(id)).length;
      notes.set(id, `no state (${state.message.slice(0, 80)}); event ${p && observed.accepted.has(p.eventId) ? 'accepted by the bridge' : 'NOT accepted by the bridge'}; the detector log names it ${mentions} times`);
    }
  }
  rows = evaluateRun(posted, plan.malformed.map((m) => m.body), observed, diagnose);
  const restartFailures = timeline.filter((t) => t.error);
  rows.push({
    check: 'every fault recovered (restarts healthy)',
    expected: `${timeline.length} faults`,
    seen: `${timeline.length - restartFailures.length} ok`,
    failing: restartFailures.length,
    examples: restartFailures.map((t) => `${t.target || t.kind} at ${t.at} s: ${t.error}`),
  });
  rows.push({ check: 'namespace without search attributes: refuse or dead-letter loudly', expected: 'refused or dead-lettered, nothing lost', seen: ns.outcome, failing: ns.ok ? 0 : 1, examples: [ns.detail] });
  rows.push({ check: 'quiescence reached', expected: `within ${opts.quietTimeoutSeconds} s`, seen: quiescent ? `after ${quietSeconds.toFixed(0)} s` : 'no', failing: quiescent ? 0 : 1, examples: quiescent ? [] : [pending] });

  // What the components logged at warn and error, counted by message: the first place to look for why.
  const logSummary: Record<string, Record<string, number>> = {};
  for (const c of [...ctx.components]) {
    const counts: Record<string, number> = {};
    for (const line of readFileSync(c.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const l = JSON.parse(line) as { level?: string; msg?: string };
        if (l.level === 'warn' || l.level === 'error') counts[`${l.level}: ${l.msg}`] = (counts[`${l.level}: ${l.msg}`] ?? 0) + 1;
      } catch {
        /* not a log line */
      }
    }
    logSummary[c.name] = counts;
  }
  const storms = await sim.storms().catch(() => []);
  for (const t of timeline) {
    if (t.kind.startsWith('slack-')) {
      const s = storms.find((x) => Math.abs(x.startedAt - (postStart + t.at * 1000)) < 2000);
      if (s) t.detail = [t.detail, t.kind === 'slack-slow' ? `slowed ${s.hits} calls` : `failed ${s.hits} calls, let ${s.passes} through`].filter(Boolean).join('; ');
    }
    if (t.kind === 'kms-throttle') {
      const from = postStart + t.at * 1000;
      const hit = proxy.requests.filter((r) => r.at >= from && r.at <= from + t.durationMs);
      t.detail = `throttled ${hit.filter((r) => r.throttled).length} of ${hit.length} KMS requests`;
    }
  }

  // Report.
  const failed = failures(rows);
  process.stdout.write('\n' + formatTable(rows) + '\n\n');
  process.stdout.write('fault timeline (seconds after posting began)\n');
  for (const t of timeline) {
    process.stdout.write(
      `  ${t.at.toFixed(1).padStart(6)}  ${t.kind.padEnd(16)} ${t.target.padEnd(44)} ${t.kind.startsWith('kill') ? `down ${(t.durationMs / 1000).toFixed(1)} s, healthy ${t.restartMs !== undefined ? (t.restartMs / 1000).toFixed(1) + ' s' : '—'} after restart${t.detail ? ` (${t.detail})` : ''}` : `${(t.durationMs / 1000).toFixed(0)} s${t.detail ? `, ${t.detail}` : ''}`}${t.error ? `  ERROR ${t.error}` : ''}\n`,
    );
  }
  process.stdout.write('\nwarnings and errors logged, by component\n');
  for (const [name, counts] of Object.entries(logSummary)) {
    const top = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 6);
    process.stdout.write(`  ${name}: ${top.length ? top.map(([m, n]) => `${m} ×${n}`).join('; ') : 'none'}\n`);
  }
  const latency = deleteLatency(posted, observed.deletes);
  const burstLatency = deleteLatency(posted.filter((p) => plan.messages[p.index]?.burst), observed.deletes);
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (latency) process.stdout.write(`\npost → chat.delete: median ${secs(latency.median)}, p95 ${secs(latency.p95)}, max ${secs(latency.max)} over ${latency.n} leaks`);
  if (burstLatency) process.stdout.write(`; in the burst: median ${secs(burstLatency.median)}, max ${secs(burstLatency.max)}`);
  if (latency) process.stdout.write('\n');
  const retried = retryResults.length;
  process.stdout.write(
    `\n${posted.length} messages (${posted.filter((p) => p.expected.length).length} leaks, ${posted.filter((p) => p.expected.length).reduce((n, p) => n + p.expected.length, 0)} incidents expected), ` +
      `${retried} extra Slack retries (${retryResults.filter((r) => r.status === 200).length} answered 200), ${plan.malformed.length} malformed events; ` +
      `stack ${stackSeconds.toFixed(0)} s, posting ${postSeconds.toFixed(0)} s, settling ${quietSeconds.toFixed(0)} s, total ${((Date.now() - runStarted) / 1000).toFixed(0)} s\n`,
  );

  const result = {
    run: runId,
    passed: failed.length === 0,
    options: opts,
    natsServer: natsVersion,
    seconds: { stack: stackSeconds, posting: postSeconds, settling: quietSeconds, total: (Date.now() - runStarted) / 1000 },
    deleteLatencyMs: { all: latency, burst: burstLatency },
    checks: rows,
    timeline,
    namespaceCheck: ns,
    logSummary,
    counts: { messages: posted.length, leaks: posted.filter((p) => p.expected.length).length, incidents: observed.incidents.length, deletes: observed.deletes.length, deadletters: observed.deadletters.length, slackRetries: retried },
  };
  writeFileSync(join(runDir, 'result.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(sentinelHome, 'chaos', 'latest.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(runDir, 'posted.json'), JSON.stringify(posted));
  // What the counts were made from, for a second look without the (stopped) simulator.
  writeFileSync(
    join(runDir, 'observed.json'),
    JSON.stringify({
      ...observed,
      kmsRevocations: Object.fromEntries(observed.kmsRevocations),
      kmsStates: Object.fromEntries(observed.kmsStates),
      audit: Object.fromEntries(observed.audit),
      accepted: observed.accepted.size,
      deadletters: observed.deadletters.map((d) => ({ subject: d.subject, reason: d.reason, bytes: d.body.length })),
      kmsRequests: proxy.requests,
    }),
  );
  say(`${failed.length === 0 ? 'PASSED' : `FAILED: ${failed.map((r) => r.check).join('; ')}`}; result in ${relative(process.cwd(), join(runDir, 'result.json'))}`);
  return failed.length === 0 ? 0 : 1;
}

/** Stops everything the run started, whatever state it is in. */
async function cleanup(passed: boolean): Promise<void> {
  ctx.stopping = true;
  say('stopping the components, the KMS proxy and the stack');
  await Promise.all(ctx.components.map((c) => c.stop(5000).catch(() => undefined)));
  killAllComponents();
  await ctx.nc?.close().catch(() => undefined);
  await ctx.client?.connection.close().catch(() => undefined);
  await ctx.proxy?.stop().catch(() => undefined);
  await ctx.github?.stop().catch(() => undefined);
  await ctx.stack?.stop().catch(() => undefined);
  await Promise.all(ctx.components.map((c) => c.close()));
  if (ctx.runDir && passed && !ctx.opts?.keep) {
    // A passing run keeps its verdict; the stack's data and the logs go unless --keep.
    for (const d of ['stack', 'logs', 'namespace-check', 'rules']) rmSync(join(ctx.runDir, d), { recursive: true, force: true });
  } else if (ctx.runDir) {
    say(`logs kept in ${relative(process.cwd(), ctx.runDir)}/logs and ${relative(process.cwd(), ctx.runDir)}/stack/logs`);
  }
}

let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  say(`${signal}: stopping everything the run started…`);
  void cleanup(false).finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', killAllComponents);

let code: number;
try {
  code = await main();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  code = 2;
}
if (!interrupted) {
  await cleanup(code === 0);
  process.exit(code);
}
