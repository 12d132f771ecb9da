/**
 * `npm run bridge`: Slack events into the CHAT stream, over HTTP (Events API, with
 * SLACK_SIGNING_SECRET) and/or Socket Mode (with SLACK_APP_TOKEN). Run several for availability.
 */
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureChatStreams } from '../nats/streams';
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
  const js = nc.jetstream();
  let http: BridgeServer | undefined;
  let socket: SocketModeIngest | undefined;
  if (signingSecret) {
    http = await new BridgeServer({ js, signingSecret, log, host: config.bridge.host, port: config.bridge.port, maxBodyBytes: config.bridge.maxBodyBytes }).start();
    log.info('Events API endpoint listening', { url: http.eventsUrl });
  }
  if (appToken) {
    socket = await startSocketMode({ appToken, slackApiUrl: config.slack.apiUrl, js, log });
    log.info('Socket Mode connected');
  }
  onShutdown(async (signal) => {
    log.info('stopping', { signal });
    await socket?.stop();
    await http?.stop();
    await nc.drain();
    log.info('bridge stopped', { http: http?.stats, socketMode: socket?.stats });
  });
  void (async () => {
    for await (const s of nc.status()) log.info('NATS connection', { type: s.type });
  })();
});
