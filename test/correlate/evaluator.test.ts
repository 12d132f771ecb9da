/** The stateful evaluator, alone: sequences, thresholds, event time, lateness, duplicates, bounds, determinism. */
import { describe, expect, it } from 'vitest';
import { factId, stepRef, type Fact } from '../../src/correlate/fact';
import { Evaluator, type Match } from '../../src/correlate/evaluator';
import { matchIncident } from '../../src/correlate/incident';
import { compileStateful, statefulSet, type StatefulRule } from '../../src/correlate/model';
import { statefulSchema } from '../../src/correlate/schema';

const MIN = 60_000;
const T0 = 1_699_999_800_000;

const rule = (raw: Record<string, unknown>): StatefulRule => compileStateful(statefulSchema.parse({ description: 'd', category: 'policy', severity: 'high', ...raw }), 'test.yaml');

const reshare = rule({
  id: 'reshare',
  kind: 'sequence',
  by: 'file',
  maxspan: '24h',
  steps: [{ channel_kinds: ['public'] }, { channel_kinds: ['im'] }],
  until: { event_types: ['file_deleted'] },
});
const burst = rule({ id: 'burst', kind: 'threshold', by: 'user', window: '10m', hop: '1m', count: 3, suppress: '30m', where: { categories: ['secret'] } });

let n = 0;
/** A fact at `min` minutes after T0 that satisfies `steps` of `r`. */
function fact(r: StatefulRule, min: number, steps: number[], o: Partial<Fact> = {}): Fact {
  n += 1;
  const base = { source: 'slack', team: 'T1', channel: o.channel ?? 'C1', ts: `${(T0 + min * MIN) / 1000}.${String(n).padStart(6, '0')}`, eventType: o.eventType ?? 'message' };
  return { v: 1, id: factId(base), ...base, user: 'U1', eventTime: T0 + min * MIN, channelKinds: [], files: ['F1'], findings: [], steps: steps.map((s) => stepRef(r.id, s)), ...o };
}

const feed = (e: Evaluator, facts: Fact[]) => facts.flatMap((f) => e.offer(f));
const ids = (ms: Match[]) => ms.map((m) => matchIncident(m).incidentId);

describe('sequence rules', () => {
  const ev = (o = {}) => new Evaluator(statefulSet([reshare]), o);

  it('fires once when the steps come in order on one key, named by the first step', () => {
    const first = fact(reshare, 0, [0]);
    const m = feed(ev(), [first, fact(reshare, 60, [1]), fact(reshare, 61, [1])]);
    expect(m).toHaveLength(1);
    expect(ids(m)[0]).toBe(`incident/slack/T1/C1/${first.ts}/reshare/F1`);
    expect(matchIncident(m[0]!).steps).toHaveLength(2);
  });

  it('does not fire for another file, past the maxspan, or after an until', () => {
    expect(feed(ev(), [fact(reshare, 0, [0]), fact(reshare, 1, [1], { files: ['F2'] })])).toHaveLength(0);
    expect(feed(ev(), [fact(reshare, 0, [0]), fact(reshare, 24 * 60 + 1, [1])])).toHaveLength(0);
    const e = ev();
    expect(feed(e, [fact(reshare, 0, [0]), fact(reshare, 5, [-1], { eventType: 'file_deleted' }), fact(reshare, 10, [1])])).toHaveLength(0);
    expect(e.stats.cancelled).toBe(1);
  });

  it('completes a match with a late first step inside the lateness bound', () => {
    const e = ev({ latenessMs: 5 * MIN });
    expect(feed(e, [fact(reshare, 10, [1]), fact(reshare, 6, [0])])).toHaveLength(1);
    expect(e.stats.late).toBe(0);
  });

  it('counts a fact later than the bound and does not use it', () => {
    const e = ev({ latenessMs: 5 * MIN });
    expect(feed(e, [fact(reshare, 10, [1]), fact(reshare, 4, [0])])).toHaveLength(0);
    expect(e.stats.late).toBe(1);
  });

  it('ignores a duplicate fact', () => {
    const e = ev();
    const a = fact(reshare, 0, [0]);
    const b = fact(reshare, 1, [1]);
    expect(feed(e, [a, a, b, b])).toHaveLength(1);
    expect(e.stats.duplicates).toBe(2);
  });

  it('gives the same matches when the same facts are replayed into a new evaluator', () => {
    const facts = [fact(reshare, 0, [0]), fact(reshare, 1, [0], { files: ['F2'] }), fact(reshare, 2, [1]), fact(reshare, 3, [1], { files: ['F2'] }), fact(reshare, 4, [0]), fact(reshare, 9, [1])];
    expect(ids(feed(ev(), facts))).toEqual(ids(feed(ev(), facts)));
    expect(ids(feed(ev(), facts))).toHaveLength(3);
  });

  it('keeps memory bounded per key and overall, counting what it evicts', () => {
    const e = ev({ maxFactsPerKey: 4, maxKeys: 10 });
    for (let i = 0; i < 20; i++) e.offer(fact(reshare, i * 0.01, [0]));
    expect(e.stats.evictedFacts).toBe(16);
    for (let i = 0; i < 30; i++) e.offer(fact(reshare, 1, [0], { files: [`FK${i}`] }));
    expect(e.keys).toBe(10);
    expect(e.stats.evictedKeys).toBeGreaterThanOrEqual(21);
  });

  it('handles only the keys of its partition when told the partition count', () => {
    const e = new Evaluator(statefulSet([reshare]), { partitions: 8 });
    const a = fact(reshare, 0, [0]);
    const b = fact(reshare, 1, [1]);
    const all = [...Array(8).keys()].flatMap((p) => [e.offer(a, p), e.offer(b, p)].flat());
    expect(all).toHaveLength(1);
  });
});

describe('until by file on a rule keyed otherwise', () => {
  // file_deleted names a file only: no user, no channel.
  const byUser = rule({ id: 'by-user', kind: 'sequence', by: 'user', maxspan: '1h', steps: [{ channel_kinds: ['public'] }, { channel_kinds: ['im'] }], until: { event_types: ['file_deleted'] } });
  const deleted = (min: number, file: string) => fact(byUser, min, [-1], { eventType: 'file_deleted', user: '', channel: '', files: [file] });

  it('cancels the sequences in progress holding the deleted file, under every key', () => {
    const e = new Evaluator(statefulSet([byUser]));
    feed(e, [fact(byUser, 0, [0], { user: 'U1' }), fact(byUser, 1, [0], { user: 'U2' }), deleted(2, 'F1')]);
    expect(e.stats.cancelled).toBe(2);
    expect(feed(e, [fact(byUser, 3, [1], { user: 'U1' }), fact(byUser, 4, [1], { user: 'U2' })])).toHaveLength(0);
  });

  it('leaves the sequences of other files alone', () => {
    const e = new Evaluator(statefulSet([byUser]));
    feed(e, [fact(byUser, 0, [0], { user: 'U1', files: ['F2'] }), deleted(2, 'F1')]);
    expect(e.stats.cancelled).toBe(0);
    expect(feed(e, [fact(byUser, 3, [1], { user: 'U1', files: ['F2'] })])).toHaveLength(1);
  });

  it('reaches the key in whichever partition holds it, the fact going to every partition', () => {
    const e = new Evaluator(statefulSet([byUser]), { partitions: 8 });
    const offerAll = (f: Fact) => [...Array(8).keys()].flatMap((p) => e.offer(f, p));
    offerAll(fact(byUser, 0, [0], { user: 'U1' }));
    offerAll(deleted(2, 'F1'));
    expect(e.stats.cancelled).toBe(1);
    expect(offerAll(fact(byUser, 3, [1], { user: 'U1' }))).toHaveLength(0);
  });
});

describe('threshold rules', () => {
  it('fires once for a burst, then suppresses the key', () => {
    const e = new Evaluator(statefulSet([burst]));
    const m = feed(e, [0, 2, 4, 5, 6, 7, 8].map((t) => fact(burst, t, [0])));
    expect(m).toHaveLength(1);
    expect(m[0]!.facts).toHaveLength(3);
    expect(e.stats.suppressed).toBe(1);
    // After the suppress interval, a new burst is a new incident.
    expect(feed(e, [40, 41, 42].map((t) => fact(burst, t, [0])))).toHaveLength(1);
  });

  it('does not fire for events of other users or spread beyond the window', () => {
    const e = new Evaluator(statefulSet([burst]));
    expect(feed(e, ['U1', 'U2', 'U3'].map((u, i) => fact(burst, i, [0], { user: u })))).toHaveLength(0);
    expect(feed(e, [20, 31, 42].map((t) => fact(burst, t, [0])))).toHaveLength(0);
  });

  it('counts distinct values when asked', () => {
    const spread = rule({ id: 'spread', kind: 'threshold', by: 'user', window: '10m', count: 3, distinct: 'channel', where: { has_file: true } });
    const e = new Evaluator(statefulSet([spread]));
    expect(feed(e, [1, 2, 3].map((t) => fact(spread, t, [0], { channel: 'C1' })))).toHaveLength(0);
    expect(feed(e, [4, 5].map((t, i) => fact(spread, t, [0], { channel: `C${i + 2}` })))).toHaveLength(1);
  });

  it('uses tumbling windows aligned to the window size', () => {
    const tumble = rule({ id: 'tumble', kind: 'threshold', by: 'user', window: '10m', count: 2, where: { has_file: true } });
    // T0 is a multiple of 10 minutes: 9 and 11 minutes after it fall in two windows.
    expect(T0 % (10 * MIN)).toBe(0);
    expect(feed(new Evaluator(statefulSet([tumble])), [9, 11].map((t) => fact(tumble, t, [0])))).toHaveLength(0);
    expect(feed(new Evaluator(statefulSet([tumble])), [11, 12].map((t) => fact(tumble, t, [0])))).toHaveLength(1);
  });
});

describe('incidents of matches', () => {
  it('carries the key channel of the configured step and only coordinates', () => {
    const conf = rule({ id: 'conf', kind: 'sequence', by: 'user', maxspan: '1h', steps: [{ channel_has_kms_key: true }, { channel_kinds: ['external'] }], actions: ['revoke_kms'], approval: 'required' });
    const [m] = feed(new Evaluator(statefulSet([conf])), [fact(conf, 0, [0], { channel: 'C0KMS' }), fact(conf, 10, [1], { channel: 'C0EXT' })]);
    const input = matchIncident(m!);
    expect(input).toMatchObject({ channel: 'C0EXT', keyChannel: 'C0KMS', rule: { id: 'conf', approvalRequired: true, actions: ['revoke_kms'] } });
    expect(input.incidentId.endsWith('/conf/U1')).toBe(true);
    expect(input.steps!.map((s) => s.channel)).toEqual(['C0KMS', 'C0EXT']);
  });
});
