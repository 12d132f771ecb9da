/**
 * `npm run bench:match`: the detector's hot path on one core. A realistic corpus of Slack
 * event_callback envelopes (about 1% leaking a secret or PII) goes through (a) bare JSON.parse and
 * (b) the full engine: JSON.parse, normalize, evaluate against the default pack. Prints messages/s,
 * MB/s and the ratio of the two. Best of several rounds, after a warm-up; the rounds of the two
 * alternate, so that a busy spell on a shared machine does not skew the ratio.
 */
import { join } from 'node:path';
import { evaluate } from '../src/engine/engine';
import { loadRules } from '../src/engine/load';
import { normalizeSlack } from '../src/events/normalize';
import { projectRoot } from '../src/paths';
import { leak, ordinaryChat, pick, rng, secretValues } from '../test/corpus/generators';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const POSITIVE_RATE = 0.01;

const r = rng(1);

const users = ['U0ALICE01', 'U0BOB0001', 'U0CAROL01', 'U0DAVE001', 'U0ERIN001'];
const channels = ['C0GENERAL', 'C0ENGINEE', 'C0RANDOM1', 'C0SALES01', 'C0PARTNER'];

/** An envelope as Slack delivers it: the text twice (text and rich_text blocks), plus the usual metadata. */
function envelope(i: number, text: string): string {
  const ts = `${1700000000 + i}.${String(i % 1e6).padStart(6, '0')}`;
  const user = pick(r, users);
  return JSON.stringify({
    token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
    team_id: 'T0SENTNL1',
    context_team_id: 'T0SENTNL1',
    api_app_id: 'A0SENTINEL',
    event: {
      user,
      type: 'message',
      ts,
      client_msg_id: `${i.toString(16).padStart(8, '0')}-4b1c-4d5e-9f00-${(i * 7919).toString(16).padStart(12, '0')}`,
      text,
      team: 'T0SENTNL1',
      blocks: [{ type: 'rich_text', block_id: 'b' + (i % 997), elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text }] }] }],
      channel: pick(r, channels),
      event_ts: ts,
      channel_type: 'channel',
    },
    type: 'event_callback',
    event_id: `Ev${i.toString(36).toUpperCase().padStart(9, '0')}`,
    event_time: 1700000000 + i,
    authorizations: [{ enterprise_id: null, team_id: 'T0SENTNL1', user_id: 'U0SNTLBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: '4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMFNFTlROTDEiLCJhaWQiOiJBMFNFTlRJTkVMIiwiY2lkIjoiQzBHRU5FUkFMIn0',
  });
}

function chat(): string {
  // Ordinary chat of varied length: one to four sentences.
  return Array.from({ length: 1 + Math.floor(r() * 4) }, () => ordinaryChat(r)).join(' ');
}

const rules = loadRules(join(projectRoot, 'rules'));
if (rules.problems.length) throw new Error('the default pack has problems; run sentinel rules test');
// Leaks of the enabled detectors only: an opt-in rule (email, phone) is off in the default pack.
const enabled = new Set(rules.active.map((x) => x.spec.id));
const detectors = Object.keys(secretValues).filter((d) => enabled.has(d));

const lines: string[] = [];
let planted = 0;
for (let i = 0; i < MESSAGES; i++) {
  const positive = r() < POSITIVE_RATE;
  if (positive) planted += 1;
  lines.push(envelope(i, positive ? leak(pick(r, detectors), r) : chat()));
}
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);

let sink = 0;
function bare(): void {
  for (const l of lines) sink += (JSON.parse(l) as { event_time: number }).event_time & 1;
}
let findings = 0;
function engine(): void {
  findings = 0;
  for (const l of lines) {
    const n = normalizeSlack(JSON.parse(l) as Record<string, unknown>);
    if (n.kind === 'event') findings += evaluate(n.event, rules).length;
  }
}

/** Seconds per run of each function: the best of ROUNDS, after a warm-up. */
function best(...fns: (() => void)[]): number[] {
  for (const fn of fns) fn(); // warm-up
  const min = fns.map(() => Infinity);
  // Rounds alternate between the functions: the machine is shared, and a busy spell then slows
  // both alike instead of skewing their ratio.
  for (let i = 0; i < ROUNDS; i++) {
    fns.forEach((fn, k) => {
      const t0 = process.hrtime.bigint();
      fn();
      min[k] = Math.min(min[k]!, Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return min;
}

const [tBare, tEngine] = best(bare, engine) as [number, number];
const row = (name: string, s: number) =>
  `${name.padEnd(34)} ${Math.round(MESSAGES / s).toLocaleString('en-US').padStart(11)} msg/s ${(bytes / 1e6 / s).toFixed(1).padStart(7)} MB/s ${(s * 1e6 / MESSAGES).toFixed(2).padStart(7)} µs/msg`;

process.stdout.write(
  [
    `corpus: ${MESSAGES.toLocaleString('en-US')} Slack envelopes, ${(bytes / 1e6).toFixed(1)} MB (avg ${Math.round(bytes / MESSAGES)} B), ${planted} planted leaks (${((planted / MESSAGES) * 100).toFixed(2)}%)`,
    `rules: ${rules.active.length} enabled (${rules.rules.length} loaded); best of ${ROUNDS} alternating rounds after a warm-up, one core`,
    row('bare JSON.parse', tBare),
    row('engine (parse+normalize+evaluate)', tEngine),
    `findings: ${findings} (planted ${planted})`,
    `ratio engine/bare: ${(tBare / tEngine).toFixed(2)} (goal >= 0.50)`,
    '',
  ].join('\n'),
);
if (sink < 0) process.stdout.write(String(sink));
