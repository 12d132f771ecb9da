/** The detector's view of raw stream messages. */
import { describe, expect, it } from 'vitest';
import { MalformedEventError, normalize } from '../src/events/normalize';

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const subject = 'chat.slack.T1.message';
const message = { type: 'message', channel: 'C1', user: 'U1', ts: '1700000000.000100', text: 'hi' };

describe('normalize', () => {
  it('reads an event_callback envelope and the bare inner event alike', () => {
    const fromEnvelope = normalize(subject, enc({ type: 'event_callback', team_id: 'T1', event_id: 'Ev1', event: message }));
    const fromEvent = normalize(subject, enc({ ...message, team: 'T1' }));
    const expected = { source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1700000000.000100', eventType: 'message', text: 'hi', channelKinds: [] };
    expect(fromEnvelope).toMatchObject({ kind: 'event', event: { ...expected, raw: message } });
    expect(fromEvent).toMatchObject({ kind: 'event', event: expected });
  });

  it('knows the channel kind, Slack Connect channels included', () => {
    const shared = normalize(subject, enc({ type: 'event_callback', team_id: 'T1', is_ext_shared_channel: true, event: { ...message, channel_type: 'channel' } }));
    expect(shared).toMatchObject({ event: { channelKinds: ['public', 'external'] } });
    const dm = normalize(subject, enc({ ...message, team: 'T1', channel_type: 'im' }));
    expect(dm).toMatchObject({ event: { channelKinds: ['im'] } });
  });

  it('ignores deletions, bot posts and non-message events', () => {
    expect(normalize(subject, enc({ ...message, subtype: 'message_deleted' }))).toMatchObject({ kind: 'ignored' });
    expect(normalize(subject, enc({ ...message, team: 'T1', bot_id: 'B1' }))).toMatchObject({ kind: 'ignored', reason: 'posted by a bot' });
    expect(normalize(subject, enc({ type: 'reaction_added' }))).toMatchObject({ kind: 'ignored' });
  });

  it.each([
    ['not JSON', '{"type":', /^not valid JSON: it ends early/],
    ['not an object', '[1,2]', /not a JSON object/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), /^not UTF-8 \(3 bytes\)/],
    ['no text', { ...message, team: 'T1', text: undefined }, /event\.text is missing/],
    ['an id with a slash', { ...message, team: 'T1', channel: 'C1/../x' }, /event\.channel is not an id/],
    ['no team', message, /event\.team is missing/],
  ])('rejects %s with a reason', (_name, payload, reason) => {
    const data = payload instanceof Uint8Array ? payload : enc(payload);
    expect(() => normalize(subject, data)).toThrow(MalformedEventError);
    expect(() => normalize(subject, data)).toThrow(reason);
  });

  it('reads the generic shape other chat sources publish', () => {
    const doc = { type: 'message', channel: 'room-1', user: 'u42', ts: '1700000000.5', text: 'hello', channel_kinds: ['external'] };
    expect(normalize('chat.teams.acme.message', enc(doc))).toMatchObject({
      kind: 'event',
      event: { source: 'teams', team: 'acme', channel: 'room-1', user: 'u42', ts: '1700000000.5', text: 'hello', channelKinds: ['external'] },
    });
    expect(() => normalize('chat.teams.acme.message', enc({ ...doc, channel_kinds: ['galaxy'] }))).toThrow(/channel_kinds must be a list of/);
    expect(() => normalize('chat.Bad Source.x.message', enc(doc))).toThrow(/does not name a source/);
  });

  it('never quotes the event in its reasons: they go to logs and dead-letter headers', () => {
    const secret = 'ghp_' + 'Zq8xW3rT6yU1iO4pA7sD0fG2hJ5kL9mN3bV8';
    const reasons = [
      `{"type":"message","text":"${secret}" oops}`,
      `${secret}`,
      JSON.stringify({ ...message, team: 'T1', user: `U1 ${secret}` }),
      JSON.stringify({ ...message, team: 'T1', channel: `C1/${secret}` }),
    ].map((raw) => {
      try {
        normalize(subject, new TextEncoder().encode(raw));
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(reasons).toHaveLength(4);
    for (const r of reasons) {
      expect(r).not.toBe('accepted');
      expect(r).not.toContain(secret.slice(4, 14));
    }
    expect(reasons[0]).toMatch(/^not valid JSON at position \d+/);
    expect(reasons[2]).toMatch(/event\.user is not an id \(a string of \d+ characters/);
  });
});
