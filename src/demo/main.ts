/**
 * `npm run demo`: the whole loop on the embedded stack. Starts the dev stack (unless
 * `npm run stack -- up` already did), a worker, a detector and a correlator (stateful rules), posts a
 * burst of chat into the Slack simulator (some of it leaking, three leaks from one user), which
 * delivers signed Events API requests to the bridge, and shows each incident as it is handled.
 * Ctrl-C stops everything it started.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { GithubSimulator } from '../github-sim/server';
import { formatProblem, loadRules } from '../engine/load';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { CHAT_STREAM, DETECTOR_CONSUMER, FACTS_STREAM } from '../nats/streams';
import { sentinelHome } from '../paths';
import { SimControl } from '../slack-sim/control';
import { StackError } from '../stack/errors';
import { portsFromEnv } from '../stack/ports';
import { startStack, type Endpoints, type RunningStack } from '../stack/stack';
import { devSecrets, secretsFile } from '../stack/secrets';
import { CodecServer } from '../codec-server/server';
import { codecFrom } from '../temporal/data-converter';
import { devCodecEndpoint, isAlive, readState, stackEnv } from '../stack/state';
import { startPipeline } from '../pipeline';
import type { IncidentState } from '../../contract';
import { burst } from './chat';
import { randomBytes } from 'node:crypto';
import { BridgeServer } from '../bridge/server';
import { startOperatorLoop } from '../bridge/operator-loop';

const out = (line = '') => void process.stdout.write(line + '\n');
const ms = (n: number) => `${Math.round(n)} ms`;

await runMain('demo', async () => {
  const stayUp = process.stdout.isTTY === true && !process.argv.includes('--once');
  let stack: RunningStack | undefined;
  let endpoints: Endpoints;
  const existing = readState(sentinelHome);
  if (existing && existing.services.every((s) => isAlive(s.pid)) && existing.endpoints.slackSimUrl) {
    endpoints = existing.endpoints;
    out(`using the dev stack that is already up (npm run stack -- status)`);
  } else {
    out('starting the embedded dev stack (Temporal dev server, NATS JetStream, moto, Slack simulator)…');
    const t0 = Date.now();
    stack = await startStack({
      home: sentinelHome,
      dir: `${sentinelHome}/demo-stack`,
      ports: portsFromEnv(),
      ui: true,
      uiCodecEndpoint: devCodecEndpoint(),
      slackSim: true,
      progress: (l) => out(`  … ${l}`),
    });
    endpoints = stack.endpoints;
    out(`stack ready in ${ms(Date.now() - t0)}`);
  }
  if (!endpoints.slackSimUrl) throw new StackError('the running stack has no Slack simulator');

  Object.assign(process.env, stackEnv(endpoints));
  // Leaked GitHub tokens are verified against a GitHub API simulator in this process, not github.com.
  const github = process.env.GITHUB_API_URL ? undefined : await new GithubSimulator().start();
  if (github) process.env.GITHUB_API_URL = github.url;
  // The dev keys, unless the operator brought their own.
  for (const [k, v] of Object.entries(devSecrets(sentinelHome))) process.env[k] ||= v;
  const config = loadConfig();
  const log = createLogger({ level: 'warn', fields: { component: 'demo' } });
  const rules = loadRules(config.rulesDir);
  for (const p of rules.problems) out(`rule problem (skipped): ${formatProblem(p)}`);

  // The SDK's own chatter (webpack, worker state) would drown the demo's story; keep its warnings.
  Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
  const sim = new SimControl(endpoints.slackSimUrl);
  const pending = new Map<string, Promise<IncidentState>>();
  out('bundling workflow code and starting the workers, a detector and a correlator…');
  const pipeline = await startPipeline({
    config,
    rules: () => rules,
    log,
    onIncident: ({ incidentId, ruleId, outcome }) => {
      if (outcome !== 'started' || pending.has(incidentId)) return;
      out(`  ⚑ incident ${incidentId}  (rule ${ruleId})`);
      pending.set(incidentId, pipeline.client.workflow.getHandle(incidentId).result() as Promise<IncidentState>);
    },
  });
  const { nc } = pipeline;

  // Slack → bridge: the simulator delivers each event, signed, to a bridge in this process.
  const signingSecret = randomBytes(16).toString('hex');
  // The summary's buttons and /sentinel come back to the same bridge (SENTINEL_OPERATORS: the stack's admin and secops group).
  const operatorLoop = await startOperatorLoop(config, nc.jetstream(), await nc.jetstreamManager(), log);
  const bridge = await new BridgeServer({ js: nc.jetstream(), signingSecret, log, controls: operatorLoop.controls }).start();
  await sim.subscribe(bridge.eventsUrl, signingSecret, { interactivityUrl: bridge.interactivityUrl, commandsUrl: bridge.commandsUrl });

  // The Web UI shows payloads encrypted; this codec server decodes them for whoever signs in with the token.
  const codecServer = config.codecServer.tokens.length
    ? new CodecServer({
        codec: codecFrom(config),
        tokens: config.codecServer.tokens,
        origins: config.codecServer.origins,
        maxBodyBytes: config.codecServer.maxBodyBytes,
        log,
        // The Web UI through the codec server: one origin, so signing in is all it takes to read payloads.
        ...(endpoints.temporalUiUrl ? { webUi: endpoints.temporalUiUrl } : {}),
      })
    : undefined;
  const codecUrl = await codecServer?.start(config.codecServer.port, config.codecServer.host).catch((err: unknown) => {
    out(`(codec server not started: ${(err as Error).message}; run "npm run codec-server" yourself to read payloads in the UI)`);
    return undefined;
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await codecServer?.stop();
    await github?.stop();
    await sim.subscribe(undefined).catch(() => undefined);
    await bridge.stop();
    await operatorLoop.close();
    await pipeline.stop();
    if (stack) {
      out('stopping the embedded stack…');
      await stack.stop();
    }
  };
  onShutdown(async () => {
    out('\nstopping…');
    await stop();
    out('stopped; nothing the demo started is left running');
    process.exit(0);
  });

  out(`\nposting ${burst.length} chat messages into the Slack simulator (${rules.rules.length} rules loaded)…`);
  const posted = new Map<string, { at: number; text: string; channel: string }>();
  for (const m of burst) {
    const { message } = await sim.post(m.user, m.channel, m.text);
    posted.set(message.ts, { at: Date.now(), text: m.text, channel: m.channel });
    out(`  #${m.channelName.padEnd(20)} ${m.userName.padEnd(6)} ${m.text}`);
    await new Promise((r) => setTimeout(r, 150));
  }

  // Wait until every post is in the stream and acked by the detector, then for every incident to finish.
  const jsm = await nc.jetstreamManager();
  const deadline = Date.now() + 60_000;
  const sleep = () => new Promise((r) => setTimeout(r, 100));
  const emitted = (await sim.events(0)).map((e) => e.event_id);
  while (Date.now() < deadline) {
    const delivered = new Set((await sim.deliveries()).filter((d) => d.status === 200).map((d) => d.eventId));
    if (emitted.every((id) => delivered.has(id))) break;
    await sleep();
  }
  while (Date.now() < deadline) {
    const info = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await sleep();
  }
  // Then for the correlator to read every fact the detector published and start what it matched.
  const { correlator } = pipeline;
  const lastFact = (await jsm.streams.info(FACTS_STREAM)).state.last_seq;
  while (Date.now() < deadline && lastFact > 0 && correlator.lastSequence < lastFact) await sleep();
  await correlator.startsSettled();
  out('');
  const statefulRules = new Set((rules.stateful?.active ?? []).map((r) => r.id));
  const results = await Promise.all([...pending.values()]);
  const perMessage = results.filter((r) => !statefulRules.has(r.rule.id));
  const patterns = results.filter((r) => statefulRules.has(r.rule.id));
  const deletes = await sim.calls('chat.delete');
  const latencies: number[] = [];
  for (const r of results) {
    // A stateful incident's message is the last event of its pattern, deleted (if at all) by that event's own incident.
    const del = statefulRules.has(r.rule.id) ? undefined : deletes.find((c) => c.ok && c.args.ts === r.message.ts);
    const sent = posted.get(r.message.ts);
    const latency = del && sent ? del.at - sent.at : undefined;
    if (latency !== undefined) latencies.push(latency);
    out(`  ✔ ${r.status.padEnd(15)} ${r.rule.id.padEnd(22)} ${r.steps.map((s) => `${s.step}:${s.outcome}`).join(' ')}${latency !== undefined ? `  (removed ${ms(latency)} after posting)` : ''}`);
    out(`      stored as: ${r.match.redacted}  ${r.match.fingerprint ?? ''}`);
  }
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)];

  out('\nsummary');
  out(`  messages posted      ${posted.size}`);
  out(`  events via bridge    ${bridge.stats.stored} stored (posts, Sentinel's own notices, deletions), ${bridge.stats.rejected} rejected`);
  out(`  incidents            ${results.length}  (${results.filter((r) => r.status === 'resolved').length} resolved, ${results.filter((r) => r.status === 'needs_attention').length} need attention)`);
  out(`    for one message    ${perMessage.length}`);
  out(`    for a pattern      ${patterns.length}${patterns.length ? `  (${patterns.map((r) => r.rule.id).join(', ')}: stateful rules over the correlator's facts)` : ''}`);
  if (correlator.stats.suppressed > 0) out(`    suppressed         ${correlator.stats.suppressed}  (a pattern again within its rule's suppress interval, e.g. a recent demo run's: no incident)`);
  out(`  messages deleted     ${deletes.filter((c) => c.ok && posted.has(String(c.args.ts))).length}`);
  if (median !== undefined) out(`  post → delete        median ${ms(median)}, max ${ms(latencies[latencies.length - 1]!)}`);
  out(`  clean messages kept  ${posted.size - new Set(perMessage.map((r) => r.message.ts)).size}`);
  if (codecUrl && endpoints.temporalUiUrl) {
    out(`\ninspect the incidents in the Temporal Web UI, decoded: sign in at ${codecUrl}/login with SENTINEL_CODEC_SERVER_TOKEN`);
    out(`  from ${secretsFile(sentinelHome)}, then open ${codecUrl}/namespaces/default/workflows`);
    out(`  (at ${endpoints.temporalUiUrl} the same UI shows payloads encrypted)`);
  } else {
    out(`\ninspect the incidents in the Temporal Web UI: ${endpoints.temporalUiUrl ?? '(UI off)'}/namespaces/default/workflows`);
  }
  out(`  filter with: SentinelStatus = "resolved"   or   SentinelRule = "tutorial-confidential"`);

  if (stayUp) {
    out('\nthe stack, workers, detector and correlator keep running so you can look around; press Ctrl-C to stop');
    await new Promise(() => {});
  }
  await stop();
});
