/** `npm run codec-server`: decodes Sentinel's payloads for the Temporal Web UI, for operators with a token. */
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { startOps } from '../ops/health';
import { codecFrom } from '../temporal/data-converter';
import { CodecServer } from './server';

await runMain('codec-server', async () => {
  const config = loadConfig();
  const codec = codecFrom(config);
  const { tokens, origins, host, port, maxBodyBytes } = config.codecServer;
  if (tokens.length === 0) {
    throw new ConfigError('SENTINEL_CODEC_SERVER_TOKEN is not set: the codec server decodes for token holders only; create one with "node bin/sentinel.js keys generate codec-server-token"');
  }
  const log = createLogger({ level: config.logLevel, fields: { component: 'codec-server' } });
  const webUi = config.codecServer.webUi;
  const server = new CodecServer({ codec, tokens, origins, maxBodyBytes, log, ...(webUi ? { webUi } : {}) });
  const url = await server.start(port, host);
  log.info('codec server listening', { url, origins, activeKey: codec.activeKeyId, signIn: `${url}/login`, ...(webUi ? { webUi: `${url}/ (the Web UI at ${webUi}, decoded once signed in)` } : {}) });
  // Its own port: the codec server's port is for the Web UI and token holders.
  const ops = await startOps(config.healthPort, { component: 'codec-server', log });
  ops?.ready('listening', () => server.listening || 'not listening');
  await new Promise<void>((resolve) =>
    onShutdown(async (signal) => {
      ops?.drain(`${signal} received`);
      log.info('stopping', { signal });
      await server.stop();
      await ops?.stop();
      resolve();
    }),
  );
  log.info('codec server stopped', { ...server.stats });
});
