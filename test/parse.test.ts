/**
 * The detector's EventParser is normalize() without the per-message set-up: for every payload and
 * subject it must give the same result, and throw the same MalformedEventError with the same reason.
 */
import { describe, expect, it } from 'vitest';
import { EventParser } from '../src/detector/parse';
import { normalize } from '../src/events/normalize';

const enc = (v: unknown) => (v instanceof Uint8Array ? v : new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v)));
const message = { type: 'message', channel: 'C1', user: 'U1', ts: '1700000000.000100', text: 'token ghp_x and more' };

const subjects = ['chat.slack.T1.message', 'chat.teams.T9.message', 'chat.Slack.T1.message', 'chat..T1.message', 'chat', 'chat.slack'];
const payloads: unknown[] = [
  { type: 'event_callback', team_id: 'T1', event_id: 'Ev1', event: message },
  { type: 'event_callback', team_id: 'T1', is_ext_shared_channel: true, event: { ...message, channel_type: 'channel' } },
  { ...message, team: 'T1', channel_type: 'im' },
  { ...message, subtype: 'message_deleted' },
  { ...message, team: 'T1', bot_id: 'B1' },
  { type: 'reaction_added' },
  { team: 'T2', channel: 'C2', user: 'U2', ts: '1700000001.000200', text: 'generic shape' },
  { ...message, team: 'T1', text: undefined },
  { ...message, team: 'T1', channel: 'C1/../x' },
  message,
  '{"type":',
  '[1,2]',
  'null',
  '"a string"',
  '42',
  '',
  new Uint8Array([0x7b, 0xff, 0x7d]),
  new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
];

const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (err) {
    return { error: (err as Error).constructor.name, message: (err as Error).message };
  }
};

describe('EventParser', () => {
  it('agrees with normalize() on every subject and payload, errors and reasons included', () => {
    const parser = new EventParser();
    let compared = 0;
    for (const subject of subjects) {
      for (const payload of payloads) {
        const data = enc(payload);
        // Twice through the same parser: its subject cache must not change the answer.
        for (let i = 0; i < 2; i++) {
          expect(outcome(() => parser.parse(subject, data)), `${subject} ${JSON.stringify(payload)}`).toEqual(outcome(() => normalize(subject, data)));
          compared += 1;
        }
      }
    }
    expect(compared).toBe(subjects.length * payloads.length * 2);
  });

  it('keeps a bounded memory of subjects and still answers right after forgetting them', () => {
    const parser = new EventParser();
    const data = enc({ ...message, team: 'T1' });
    for (let i = 0; i < 10_000; i++) {
      const subject = `chat.slack.T${i}.message`;
      expect(parser.parse(subject, data)).toEqual(normalize(subject, data));
    }
  });
});
