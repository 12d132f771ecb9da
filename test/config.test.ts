/** Configuration fails fast and names the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, required } from '../src/config';

describe('configuration', () => {
  it('has defaults that point at the dev stack', () => {
    const c = loadConfig({});
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'sentinel-remediation' });
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4223']);
    expect(c.detector.concurrency).toBe(16);
  });

  it('names every bad variable and its value', () => {
    let err: unknown;
    try {
      loadConfig({ TEMPORAL_ADDRESS: 'localhost', DETECTOR_CONCURRENCY: '0', SLACK_API_URL: 'not a url' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('TEMPORAL_ADDRESS="localhost": expected host:port');
    expect(msg).toContain('DETECTOR_CONCURRENCY="0"');
    expect(msg).toContain('SLACK_API_URL="not a url"');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ NATS_URL: '' }).nats.servers).toEqual(['nats://127.0.0.1:4223']);
  });

  it('says why a required variable is needed', () => {
    expect(() => required(undefined, 'SLACK_ADMIN_TOKEN', 'the worker deletes messages with it')).toThrow('SLACK_ADMIN_TOKEN is not set: the worker deletes messages with it');
  });
});
