/** `npm run bridge`: Slack's Events API into the CHAT stream. Run several behind a load balancer. */
import { loadConfig, required } from '../config';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureChatStreams } from '../nats/streams';
import { BridgeServer } from './server';

await runMain('bridge', async () => {
  const config = loadConfig();
  const signingSecret = required(config.bridge.signingSecret, 'SLACK_SIGNING_SECRET', 'the bridge verifies every Slack request with the app signing secret');
  const log = createLogger({ level: config.logLevel, fields: { component: 'bridge' } });
  const nc = await connectNats(config.nats, 'sentinel-bridge');
  await ensureChatStreams(await nc.jetstreamManager());
  const bridge = await new BridgeServer({ js: nc.jetstream(), signingSecret, log, host: config.bridge.host, port: config.bridge.port, maxBodyBytes: config.bridge.maxBodyBytes }).start();
  log.info('bridge listening', { url: bridge.eventsUrl });
  onShutdown(async (signal) => {
    log.info('stopping', { signal });
    await bridge.stop();
    await nc.drain();
    log.info('bridge stopped', { ...bridge.stats });
  });
  void (async () => {
    for await (const s of nc.status()) log.info('NATS connection', { type: s.type });
  })();
});
