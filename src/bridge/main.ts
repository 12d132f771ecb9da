/**
 * `npm run bridge`: Slack events into the CHAT stream, over HTTP (Events API, with
 * SLACK_SIGNING_SECRET) and/or Socket Mode (with SLACK_APP_TOKEN). Run several for availability.
 * With SENTINEL_OPERATORS it also carries out the operators' button clicks and /sentinel commands
 * as incident Updates (a Temporal client, connected lazily: events keep flowing while Temporal is away).
 */
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureChatStreams } from '../nats/streams';
import { startOps } from '../ops/health';
import { SlackBudgets } from '../../activities/slack-budget';
import { activityWebClient } from '../../activities/slack-client';
import { startOperatorLoop } from './operator-loop';
import { FileEnricher } from './enrich';
import { ensureEnrichStream } from './route';
import { BridgeServer } from './server';
import { startSocketMode, type SocketModeIngest } from './socket-mode';

await runMain('bridge', async () => {
  const config = loadConfig();
  const { signingSecret, appToken } = config.bridge;
  if (!signingSecret && !appToken) {
    throw new ConfigError('set SLACK_SIGNING_SECRET (Events API over HTTP), SLACK_APP_TOKEN (Socket Mode), or both: the bridge has no way to receive events');
  }
  const log = createLogger({ level: config.logLevel, fields: { component: 'bridge' } });
  const nc = await connectNats(config.nats, 'sentinel-bridge');
  await ensureChatStreams(await nc.jetstreamManager());
  await ensureEnrichStream(await nc.jetstreamManager());
  const js = nc.jetstream();
  // File events name files by id only: the enricher looks them up (files.info) before they reach CHAT.
  const lookupToken = config.slack.botToken ?? config.slack.adminToken;
  let enricher: FileEnricher | undefined;
  if (lookupToken) {
    enricher = await new FileEnricher({ nc, slack: activityWebClient(lookupToken, config.slack.apiUrl), log: log.child({ part: 'enricher' }), budgets: new SlackBudgets(config.slack.budgets) }).start();
  } else {
    log.warn('neither SLACK_BOT_TOKEN nor SLACK_ADMIN_TOKEN is set: file events wait in the ENRICH stream until a bridge with a token (files:read) looks them up');
  }
  // Operators' clicks and /sentinel commands: refusals go to the incident's audit trail, Updates through Temporal.
  const operatorLoop = await startOperatorLoop(config, js, await nc.jetstreamManager(), log);
  const { controls } = operatorLoop;
  let http: BridgeServer | undefined;
  let socket: SocketModeIngest | undefined;
  if (signingSecret) {
    http = await new BridgeServer({ js, signingSecret, log, host: config.bridge.host, port: config.bridge.port, maxBodyBytes: config.bridge.maxBodyBytes, controls }).start();
    log.info('Events API endpoint listening', { url: http.eventsUrl, interactivity: http.interactivityUrl, commands: http.commandsUrl });
  }
  if (appToken) {
    socket = await startSocketMode({ appToken, slackApiUrl: config.slack.apiUrl, js, log, controls });
    log.info('Socket Mode connected');
  }
  // /livez, /readyz, /metrics on SENTINEL_HEALTH_PORT: ready while NATS is connected (events can be stored).
  const ops = await startOps(config.healthPort, { component: 'bridge', log });
  ops?.ready('nats', () => (nc.isClosed() ? 'connection closed' : true));
  onShutdown(async (signal) => {
    ops?.drain(`${signal} received`);
    log.info('stopping', { signal });
    await socket?.stop();
    await http?.stop();
    await operatorLoop.close();
    await enricher?.stop();
    await nc.drain();
    await ops?.stop();
    log.info('bridge stopped', { http: http?.stats, socketMode: socket?.stats, enricher: enricher?.stats, controls: controls.stats });
  });
  void (async () => {
    for await (const s of nc.status()) log.info('NATS connection', { type: s.type });
  })();
});
