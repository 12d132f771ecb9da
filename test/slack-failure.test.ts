/**
 * Slack's errors, classified once: the real WebClient against the simulator, each code answered both
 * ways Slack does (HTTP 200 `ok:false` and an HTTP 5xx), mapped to a Temporal failure that retries
 * or stops.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityWebClient } from '../activities/slack-client';
import { classifySlackError, PERMANENT_SLACK_ERRORS, slackFailure, TRANSIENT_SLACK_ERRORS } from '../activities/slack-failure';
import { FailureType } from '../contract';
import { SlackSimulator } from '../src/slack-sim/server';
import { SIM_ADMIN_TOKEN } from '../src/slack-sim/workspace';

const TRANSIENT = ['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited'];
const PERMANENT = ['account_inactive', 'channel_not_found', 'not_in_channel', 'missing_scope', 'invalid_auth', 'token_revoked', 'cant_delete_message'];

describe('Slack error table', () => {
  let sim: SlackSimulator;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
  });
  afterAll(async () => {
    await sim?.stop();
  });

  /** What the activity would throw for the next chat.delete, given the fault. */
  async function failureFor(fault: Parameters<SlackSimulator['injectFault']>[0]): Promise<ApplicationFailure> {
    sim.injectFault(fault);
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'hello');
    try {
      await activityWebClient(SIM_ADMIN_TOKEN, sim.apiUrl).chat.delete({ channel: 'C0GENERAL', ts: message.ts });
    } catch (err) {
      return slackFailure(err, 'chat.delete');
    }
    throw new Error('chat.delete succeeded despite the fault');
  }

  it('lists every code the issue names, each on one side only', () => {
    for (const code of TRANSIENT) expect(classifySlackError(code)).toBe('transient');
    for (const code of PERMANENT) expect(classifySlackError(code)).toBe('permanent');
    for (const code of TRANSIENT_SLACK_ERRORS) expect(PERMANENT_SLACK_ERRORS.has(code)).toBe(false);
    // A code Slack adds later stops and says which it was, for an operator to read.
    expect(classifySlackError('some_new_error')).toBe('permanent');
  });

  it.each(TRANSIENT)('retries %s, in a 200 body or behind an HTTP 500', async (code) => {
    const in200 = await failureFor({ method: 'chat.delete', kind: 'error', error: code });
    expect(in200.type).toBe(FailureType.SlackTransient);
    expect(in200.nonRetryable).toBe(false);
    expect(in200.message).toContain(code);
    const in500 = await failureFor({ method: 'chat.delete', kind: 'server_error', status: 500, error: code });
    expect(in500.type).toBe(FailureType.SlackTransient);
    expect(in500.nonRetryable).toBe(false);
  });

  it.each(PERMANENT)('stops at once on %s in a 200 body', async (code) => {
    const f = await failureFor({ method: 'chat.delete', kind: 'error', error: code });
    expect(f.type).toBe(FailureType.SlackPermanent);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toBe(`chat.delete refused: ${code}`);
  });

  it('retries any HTTP 5xx and waits out a 429 for its Retry-After', async () => {
    for (const status of [500, 502, 503, 504]) expect((await failureFor({ method: 'chat.delete', kind: 'server_error', status })).type).toBe(FailureType.SlackTransient);
    const limited = await failureFor({ method: 'chat.delete', kind: 'rate_limited', retryAfter: 7 });
    expect(limited.type).toBe(FailureType.SlackRateLimited);
    expect(limited.nextRetryDelay).toBe('7s');
  });

  it('stops on an HTTP 4xx other than 429 and 408', async () => {
    expect((await failureFor({ method: 'chat.delete', kind: 'server_error', status: 410, error: 'method_deprecated' })).type).toBe(FailureType.SlackPermanent);
    expect((await failureFor({ method: 'chat.delete', kind: 'server_error', status: 408 })).type).toBe(FailureType.SlackTransient);
  });
});
