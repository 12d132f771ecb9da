/** Configuration fails fast and names the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, required } from '../src/config';

describe('configuration', () => {
  it('has defaults that point at the dev stack', () => {
    const c = loadConfig({});
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'sentinel-remediation', workflowTaskPolls: 20 });
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4223']);
    expect(c.detector.concurrency).toBe(16);
  });

  it('names every bad variable and its value', () => {
    let err: unknown;
    try {
      loadConfig({ TEMPORAL_ADDRESS: 'localhost', DETECTOR_CONCURRENCY: '0', SLACK_API_URL: 'not a url', SENTINEL_WORKFLOW_TASK_POLLS: '64' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('TEMPORAL_ADDRESS="localhost": expected host:port');
    expect(msg).toContain('DETECTOR_CONCURRENCY="0"');
    expect(msg).toContain('SLACK_API_URL="not a url"');
    expect(msg).toContain('SENTINEL_WORKFLOW_TASK_POLLS="64"');
  });

  it('never shows the value of a token or key, only its length', () => {
    const token = 'short-tok';
    const signing = 'abc';
    let msg = '';
    try {
      loadConfig({ SENTINEL_CODEC_SERVER_TOKEN: token, SLACK_SIGNING_SECRET: signing, SLACK_APP_TOKEN: 'xoxb-not-an-app-token' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('SENTINEL_CODEC_SERVER_TOKEN=<hidden, 9 characters>: tokens of 24 or more characters');
    expect(msg).toContain('SLACK_SIGNING_SECRET=<hidden, 3 characters>');
    expect(msg).toContain('SLACK_APP_TOKEN=<hidden, 21 characters>');
    for (const v of [token, signing, 'xoxb-not-an-app-token']) expect(msg).not.toContain(v);
  });

  it('reads the codec server settings, and refuses an origin with a path', () => {
    const c = loadConfig({ SENTINEL_CODEC_SERVER_TOKEN: `${'a'.repeat(24)},${'b'.repeat(30)}`, SENTINEL_CODEC_SERVER_ORIGINS: 'https://temporal.acme.io' });
    expect(c.codecServer).toMatchObject({ tokens: ['a'.repeat(24), 'b'.repeat(30)], origins: ['https://temporal.acme.io'], port: 8888, maxBodyBytes: 4 << 20 });
    expect(loadConfig({}).codecServer.origins).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(() => loadConfig({ SENTINEL_CODEC_SERVER_ORIGINS: 'https://temporal.acme.io/ui' })).toThrow(/SENTINEL_CODEC_SERVER_ORIGINS="https:\/\/temporal.acme.io\/ui": origins such as/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ NATS_URL: '' }).nats.servers).toEqual(['nats://127.0.0.1:4223']);
  });

  it('says why a required variable is needed', () => {
    expect(() => required(undefined, 'SLACK_ADMIN_TOKEN', 'the worker deletes messages with it')).toThrow('SLACK_ADMIN_TOKEN is not set: the worker deletes messages with it');
  });
});
