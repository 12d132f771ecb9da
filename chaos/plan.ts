/**
 * What a chaos run does, decided up front from its seed: which messages are posted when, by whom
 * and where, which of them leak (and how), which get an extra Slack retry, which malformed events
 * go straight onto the stream, and when each fault strikes. Pure: the same seed gives the same plan.
 */
import { leak as corpusLeak, ordinaryChat, pick, rng, type Rng } from '../test/corpus/generators';
import type { ChaosOptions } from './options';

export const TEAM = 'T0SENTNL1';

/** People who post: three of the simulator's own and three the run adds. */
export const EXTRA_USERS = [
  { id: 'U0DAVE001', name: 'dave', real_name: 'Dave Moe', manager: 'U0CAROL01' },
  { id: 'U0ERIN001', name: 'erin', real_name: 'Erin Loe', manager: 'U0CAROL01' },
  { id: 'U0FRANK01', name: 'frank', real_name: 'Frank Zoe' },
];
export const USERS = ['U0ALICE01', 'U0BOB0001', 'U0CAROL01', ...EXTRA_USERS.map((u) => u.id)];

/** Channels they post in: two of the simulator's and two the run adds (none shared externally). */
export const EXTRA_CHANNELS = [
  { id: 'C0CHAOS01', name: 'ops', kind: 'channel' as const },
  { id: 'C0CHAOS02', name: 'random', kind: 'channel' as const },
];
export const CHANNELS = ['C0GENERAL', 'C0ENGINEE', ...EXTRA_CHANNELS.map((c) => c.id)];
export const SECURITY_CHANNEL = 'C0SECURIT';

/** Detectors whose leaks the run posts (delete + notify); all have corpus generators. */
export const SECRET_DETECTORS = ['github-pat', 'gitlab-pat', 'npm-access-token', 'anthropic-api-key', 'slack-bot-token'];
/** The tutorial's SQL rules the run relies on (rules/tutorial.yaml). */
export const CONFIDENTIAL_RULE = 'tutorial-confidential';
export const KMS_RULE = 'tutorial-kms-key-arn';
/** Where a KMS leak's text has its key's ARN. */
export const ARN_SLOT = '{ARN}';

export type LeakKind = 'secret' | 'confidential' | 'kms';

export interface PlannedMessage {
  index: number;
  kind: 'leak' | 'clean';
  leak?: LeakKind;
  /** The detector a secret leak is made for. */
  detector?: string;
  /** Which of the run's KMS keys a kms leak names (its text holds ARN_SLOT). */
  kmsKey?: number;
  user: string;
  channel: string;
  text: string;
  /** When to post it, in ms after posting starts. */
  atMs: number;
  /** A leak delivered a third time, as Slack's retry (X-Slack-Retry-Num), this long after the post. */
  retryAfterMs?: number;
  /** Part of the burst: one person pasting leak after leak into one channel. */
  burst?: boolean;
}

export type FaultKind =
  | 'kill-detector'
  | 'kill-worker'
  | 'kill-kms-worker'
  | 'kill-nats'
  | 'kill-temporal'
  | 'slack-429'
  | 'slack-5xx'
  | 'slack-error'
  | 'slack-slow'
  | 'kms-throttle';

export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  /** Storms and throttling: how long; kills: how long the process stays down before its restart. */
  durationMs: number;
  /** Storms and throttling: the share of calls that fail. */
  share?: number;
  seed?: number;
  /** Why it strikes when it does (the burst's worker kill). */
  note?: string;
  /** A kill that waits (from atMs, at most maxMs) until `calls` DMs to `user` have been sent: notifications are then in flight. */
  waitFor?: { user: string; calls: number; maxMs: number };
}

/** A payload published straight onto CHAT that the detector must dead-letter. */
export interface Malformed {
  atMs: number;
  what: string;
  body: Uint8Array;
}

/** One person pasting leak after leak (a script gone wrong, an .env file line by line). */
export interface Burst {
  atMs: number;
  size: number;
  user: string;
  channel: string;
  /** ms between two of its messages. */
  spacingMs: number;
}

export interface Plan {
  messages: PlannedMessage[];
  burst: Burst;
  faults: PlannedFault[];
  malformed: Malformed[];
  kmsKeys: number;
}

/** The rule ids a text matches when posted by `user` in `channel` (the real rule engine, in the runner). */
export type Screen = (text: string, channel: string, user: string) => string[];

/** One round of faults: every kind once, kills and storms interleaved so that they overlap a little. */
export const FAULT_ROUND: FaultKind[] = ['kill-detector', 'slack-429', 'kill-worker', 'kms-throttle', 'kill-nats', 'slack-5xx', 'kill-kms-worker', 'slack-error', 'kill-temporal'];

const SAMPLE_ARN = 'arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-4697-8877-665544332211';

const confidentialTexts = [
  (r: Rng) => `Q${1 + Math.floor(r() * 4)} revenue forecast attached, confidential, do not forward`,
  (r: Rng) => `board deck v${1 + Math.floor(r() * 9)} is confidential until the all-hands`,
  () => 'the acquisition memo is confidential, keep it in this thread',
  (r: Rng) => `salary bands for L${3 + Math.floor(r() * 5)} (confidential) are in the drive`,
];
const kmsTexts = [
  () => `prod data key is ${ARN_SLOT} if you need to decrypt the export`,
  () => `use ${ARN_SLOT} for the bucket, it is the customer-managed one`,
  () => `kms key for the billing db: ${ARN_SLOT}`,
];

function shuffle<T>(r: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Up to `tries` candidates until `ok` accepts one; throws naming `what` if none is accepted. */
function firstAccepted(what: string, make: () => string, ok: (text: string) => boolean, tries = 50): string {
  for (let i = 0; i < tries; i++) {
    const t = make();
    if (ok(t)) return t;
  }
  throw new Error(`could not make ${what} that the rules treat as intended in ${tries} tries; are the rules the run expects loaded?`);
}

export function makePlan(o: Pick<ChaosOptions, 'leaks' | 'clean' | 'seed' | 'short' | 'postSeconds'>, screen: Screen): Plan {
  const r = rng(o.seed);
  const postMs = o.postSeconds * 1000;
  const kms = Math.max(1, Math.round(o.leaks * 0.15));
  const confidential = Math.round(o.leaks * 0.25);
  const kinds: LeakKind[] = [...Array<LeakKind>(kms).fill('kms'), ...Array<LeakKind>(confidential).fill('confidential')];
  while (kinds.length < o.leaks) kinds.push('secret');

  // About a quarter of the leaks (at most 80, all secrets) come in one burst from one person in one
  // channel, part way through: more notifications to one person than a look at their last 50 DMs covers.
  const burst: Burst = { atMs: Math.round(postMs * 0.4), size: Math.min(80, Math.round(o.leaks * 0.27)), user: 'U0FRANK01', channel: 'C0CHAOS02', spacingMs: 25 };
  const burstKinds = kinds.filter((k) => k === 'secret').length;
  burst.size = Math.min(burst.size, burstKinds);
  const drafts: (Omit<PlannedMessage, 'index' | 'atMs'> & { atMs?: number })[] = [];
  let kmsKey = 0;
  let inBurst = 0;
  for (const leak of kinds.slice(0, o.leaks)) {
    const bursting = leak === 'secret' && inBurst < burst.size;
    const user = bursting ? burst.user : pick(r, USERS);
    const channel = bursting ? burst.channel : pick(r, CHANNELS);
    if (leak === 'secret') {
      const detector = pick(r, SECRET_DETECTORS);
      const text = firstAccepted(`a ${detector} leak`, () => corpusLeak(detector, r), (t) => screen(t, channel, user).includes(detector));
      drafts.push({ kind: 'leak', leak, detector, user, channel, text, ...(bursting ? { burst: true, atMs: burst.atMs + inBurst++ * burst.spacingMs } : {}) });
    } else if (leak === 'confidential') {
      const text = firstAccepted('a confidential leak', () => pick(r, confidentialTexts)(r), (t) => screen(t, channel, user).includes(CONFIDENTIAL_RULE));
      drafts.push({ kind: 'leak', leak, user, channel, text });
    } else {
      const text = firstAccepted('a KMS key leak', () => pick(r, kmsTexts)(), (t) => screen(t.replace(ARN_SLOT, SAMPLE_ARN), channel, user).includes(KMS_RULE));
      drafts.push({ kind: 'leak', leak, kmsKey: kmsKey++, user, channel, text });
    }
  }
  for (let i = 0; i < o.clean; i++) {
    const user = pick(r, USERS);
    const channel = pick(r, CHANNELS);
    // The corpus's ordinary chat is full of look-alikes; the few a detector would still flag are not "clean".
    const text = firstAccepted('an ordinary message', () => ordinaryChat(r), (t) => screen(t, channel, user).length === 0);
    drafts.push({ kind: 'clean', user, channel, text });
  }
  const spread = shuffle(r, drafts.filter((d) => !d.burst));
  spread.forEach((d, i) => (d.atMs = Math.round((i * postMs) / Math.max(1, spread.length))));
  const timed = [...spread, ...drafts.filter((d) => d.burst)].sort((a, b) => a.atMs! - b.atMs!);
  const messages: PlannedMessage[] = timed.map((d, index) => {
    const m: PlannedMessage = { ...d, index, atMs: d.atMs! };
    if (m.kind === 'leak' && r() < 1 / 3) m.retryAfterMs = 3000 + Math.round(r() * 20_000);
    return m;
  });

  const rounds = o.short ? 1 : 2;
  const kindsInOrder = Array.from({ length: rounds }, (_, i) => (i === 0 ? FAULT_ROUND : shuffle(r, [...FAULT_ROUND]))).flat();
  const storm = o.short ? 8000 : 15_000;
  // The other faults keep clear of the burst, so that what happens in it is the burst's own doing.
  const quiet = { from: burst.atMs - storm - 1000, length: storm + 1000 + burst.size * burst.spacingMs + (o.short ? 20_000 : 40_000) };
  const span = postMs * 0.84 - (burst.size > 0 ? quiet.length : 0);
  const faults: PlannedFault[] = kindsInOrder.map((kind, k) => {
    let atMs = Math.round(postMs * 0.06 + (span * k) / kindsInOrder.length);
    if (burst.size > 0 && atMs >= quiet.from) atMs += quiet.length;
    const seed = Math.floor(r() * 2 ** 31);
    switch (kind) {
      case 'slack-429':
        return { atMs, kind, durationMs: storm, share: 0.5, seed };
      case 'slack-5xx':
        return { atMs, kind, durationMs: storm, share: 0.4, seed };
      case 'slack-error':
        return { atMs, kind, durationMs: storm, share: 0.3, seed };
      case 'kms-throttle':
        return { atMs, kind, durationMs: o.short ? 15_000 : 25_000, share: 0.6, seed };
      case 'kill-nats':
      case 'kill-temporal':
        return { atMs, kind, durationMs: 2000 };
      default:
        return { atMs, kind, durationMs: 1000 };
    }
  });

  // A remediation worker dies while the burst's notifications are being posted, and Slack is slow
  // to answer them then: a post the dead worker sent lands after it died, and its retry must find it.
  if (burst.size > 0) {
    const note = `during the burst of ${burst.size} leaks from ${burst.user}`;
    faults.push({ atMs: burst.atMs, kind: 'slack-slow', durationMs: o.short ? 20_000 : 40_000, share: 1, seed: Math.floor(r() * 2 ** 31), note });
    const calls = Math.max(1, Math.round(burst.size / 8));
    faults.push({ atMs: burst.atMs + 1000, kind: 'kill-worker', durationMs: 1000, note, waitFor: { user: burst.user, calls, maxMs: o.short ? 15_000 : 30_000 } });
  }
  faults.sort((a, b) => a.atMs - b.atMs);

  const enc = new TextEncoder();
  const bad = (what: string, body: string | Uint8Array) => ({ what, body: typeof body === 'string' ? enc.encode(body) : body });
  const malformedBodies = [
    bad('not JSON', '{"type":"event_callback", "team_id": "T0SENTNL1", oops'),
    bad('a JSON list', '[1, 2, 3]'),
    bad('an event_callback without an event', JSON.stringify({ type: 'event_callback', team_id: TEAM, event_id: 'EvCHAOSBAD3' })),
    bad('a message without text', JSON.stringify({ type: 'event_callback', team_id: TEAM, event_id: 'EvCHAOSBAD4', event: { type: 'message', channel: 'C0GENERAL', user: 'U0ALICE01', ts: '1700000000.000004' } })),
    bad('a team id that is not an id', JSON.stringify({ type: 'event_callback', team_id: 'not an id!', event_id: 'EvCHAOSBAD5', event: { type: 'message', channel: 'C0GENERAL', user: 'U0ALICE01', ts: '1700000000.000005', text: 'hello' } })),
    bad('bytes that are not UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  ];
  const malformed = malformedBodies.map((m, i) => ({ ...m, atMs: Math.round(postMs * (0.1 + (0.8 * i) / malformedBodies.length)) }));

  return { messages, burst, faults, malformed, kmsKeys: kmsKey };
}
