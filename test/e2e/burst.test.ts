/**
 * A burst of incidents against a workspace that enforces Slack's rate limits: the fleet-wide
 * limit on the Slack task queue spaces the calls out, so the burst queues instead of turning into
 * a storm of 429s. The workspace allows fewer calls per second than the pipeline can make on this
 * machine, so without the limit this burst draws 429s throughout. Temporal's rate limiter lets the
 * first second through in a burst: the few 429s that causes are each honoured (Retry-After) once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatSubject } from '../../src/nats/streams';
import { eventually, startHarness, type Harness } from '../support/harness';

const BURST = 60;
const SLACK_LIMIT_PER_SECOND = 5;
const WORKER_LIMIT_PER_SECOND = 4;

describe('a burst of incidents', () => {
  let h: Harness;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-burst-rules-'));
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - id: burst\n    description: burst test\n    category: policy\n    severity: low\n    match: { keywords: [burstword] }\n    actions: [delete]\n',
    );
    // Deletions run on their own queue at chat.delete's budget: that is the limit under test here.
    h = await startHarness({ SENTINEL_RULES_DIR: dir, SLACK_RATE_LIMITS: `chat.delete=${WORKER_LIMIT_PER_SECOND}/s`, SENTINEL_SECURITY_CHANNEL: '' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`turns ${BURST} incidents into ${BURST} deletes without a storm of 429s`, async () => {
    h.sim.rateLimit('chat.delete', SLACK_LIMIT_PER_SECOND);
    const js = h.nc.jetstream();
    const started = Date.now();
    for (let i = 0; i < BURST; i++) {
      const { envelope } = h.sim.postAsUser(i % 2 ? 'U0ALICE01' : 'U0BOB0001', 'C0GENERAL', `burstword ${i}`);
      await js.publish(chatSubject('slack', 'T0SENTNL1', 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    }
    await eventually('every delete', () => h.sim.okCalls('chat.delete').length === BURST, 120_000);
    const seconds = (Date.now() - started) / 1000;
    const deletes = h.sim.calls.filter((c) => c.method === 'chat.delete');
    process.stdout.write(`\nburst: ${BURST} deletes in ${seconds.toFixed(1)} s, ${deletes.filter((c) => c.status === 429).length} answered 429\n`);
    const limited = deletes.filter((c) => c.status === 429);
    // Only the start of the burst is turned away (without the limit: hundreds, all the way through),
    // and no message more than twice.
    expect(limited.length).toBeLessThanOrEqual(2 * SLACK_LIMIT_PER_SECOND);
    const perMessage = new Map<unknown, number>();
    for (const c of limited) perMessage.set(c.args.ts, (perMessage.get(c.args.ts) ?? 0) + 1);
    expect(Math.max(0, ...perMessage.values())).toBeLessThanOrEqual(2);
    expect(h.sim.workspace.history('C0GENERAL').filter((m) => m.text.startsWith('burstword'))).toEqual([]);
  }, 150_000);
});
