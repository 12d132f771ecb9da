/**
 * `sentinel rules try <file> [--since 1h] [--live 30s] [--channels C1,C2] [--json]`: what a rule
 * file would have matched, without opening an incident. Over history read back from Slack (--since),
 * evaluated here; over live events (--live), evaluated by the detectors, which have the text: the
 * file goes to them in the tail announcement (src/detector/tail.ts) and they send back redacted
 * verdicts. The file is validated first, with the problems `sentinel rules test` reports.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config';
import { Evaluator, type Match } from '../correlate/evaluator';
import type { Fact } from '../correlate/fact';
import { runSequenceTests } from '../correlate/sequence-tests';
import { factOf } from '../correlate/steps';
import { compileCandidate, TAIL_MAX_RULE_FILE_BYTES, verdictsOfFindings, type TailVerdict } from '../detector/tail';
import { evaluate, ruleSet } from '../engine/engine';
import { runInlineTests } from '../engine/inline-tests';
import { loadRules } from '../engine/load';
import { MalformedEventError, normalizeSlack } from '../events/normalize';
import { connectNats } from '../nats/connect';
import { historyClient, HistoryError, readHistory } from './history';
import { formatLine, LINE_HEADER, timeOf } from './tail';
import { TailListener } from './tail-listen';

export interface TryOptions {
  file: string;
  /** How far back to read history, e.g. `1h`; the default when neither this nor live is given. */
  since?: string;
  /** How long to watch live events, e.g. `30s`. */
  live?: string;
  channels?: string[];
  json?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  /** Ends --live early (the command wires SIGINT to it). */
  signal?: AbortSignal;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `10m`, `1h`, `2d` in ms, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}

/** Matches per rule, for the summary. */
class Tally {
  events = 0;
  matched = 0;
  readonly perRule = new Map<string, number>();
  add(verdicts: TailVerdict[]): void {
    this.events += 1;
    if (verdicts.length === 0) return;
    this.matched += 1;
    for (const v of verdicts) this.perRule.set(v.rule, (this.perRule.get(v.rule) ?? 0) + 1);
  }
  /** Stateful matches per rule. */
  readonly perStateful = new Map<string, number>();
  addMatch(m: Match): void {
    this.perStateful.set(m.rule.id, (this.perStateful.get(m.rule.id) ?? 0) + 1);
  }
  toString(): string {
    const rules = [...this.perRule].map(([rule, n]) => `${rule} ${n}`).join(', ');
    const stateful = [...this.perStateful].map(([rule, n]) => `${rule} ${n}`).join(', ');
    return `${this.events} events, ${this.matched} would have matched${rules ? ` (${rules})` : ''}${stateful ? `; stateful matches: ${stateful}` : ''}`;
  }
}

/** A stateful match on one line: rule, key, and the coordinates of its events (never their text). */
export function formatMatch(m: Match): string {
  const events = m.facts.map((f) => `${timeOf(f.ts)} ${f.team || '-'}/${f.channel} ${f.user} ${f.eventType}`).join(', ');
  return `MATCH ${m.rule.id} [${m.rule.incident.severity}] by ${m.keyKind} ${m.key}: ${m.facts.length} event${m.facts.length === 1 ? '' : 's'} (${events})`;
}

const matchJson = (m: Match) => ({
  match: m.rule.id,
  kind: m.rule.kind,
  severity: m.rule.incident.severity,
  by: m.keyKind,
  key: m.key,
  events: m.facts.map((f) => ({ team: f.team, channel: f.channel, user: f.user, ts: f.ts, eventType: f.eventType })),
});

/** Exit code: 0 done, 2 a bad file or option (nothing tried), 1 Slack or NATS failed on the way. */
export async function rulesTry(o: TryOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const fail = (message: string, code = 2) => {
    err.write(`sentinel rules try: ${message}\n`);
    return code;
  };
  const sinceMs = o.since !== undefined ? parseDuration(o.since) : o.live === undefined ? 3_600_000 : undefined;
  if (o.since !== undefined && sinceMs === undefined) return fail(`--since takes a duration such as 30m, 1h or 2d, not ${JSON.stringify(o.since)}`);
  const liveMs = o.live !== undefined ? parseDuration(o.live) : undefined;
  if (o.live !== undefined && liveMs === undefined) return fail(`--live takes a duration such as 30s or 5m, not ${JSON.stringify(o.live)}`);

  let size: number;
  try {
    size = statSync(o.file).size;
  } catch (e) {
    return fail(`cannot read ${o.file}: ${(e as Error).message}`);
  }
  // The file travels in a NATS message to every detector: keep it to one rule file's worth.
  if (size > TAIL_MAX_RULE_FILE_BYTES) return fail(`${o.file} is ${size} bytes; rules try takes files up to ${TAIL_MAX_RULE_FILE_BYTES} bytes (split it, and try one part at a time)`);
  const text = readFileSync(o.file, 'utf8');
  const name = basename(o.file);
  const candidate = compileCandidate(o.file, text);
  if (candidate.problems.length) {
    for (const p of candidate.problems) err.write(`problem: ${p}\n`);
    return fail(`${candidate.problems.length} rule file problem${candidate.problems.length === 1 ? '' : 's'}; nothing tried`);
  }
  const stateful = candidate.stateful.rules.length > 0;
  if (candidate.rules.rules.length === 0 && !stateful) return fail(`${o.file} holds no rules`);
  const config = loadConfig();
  // Stateful steps may name the deployed per-event rules (rules:, categories:): their findings count, as in the detector.
  const perEvent = stateful ? ruleSet([...loadRules(config.rulesDir).active, ...candidate.rules.rules]) : candidate.rules;
  // Examples that fail are worth knowing before reading the matches, but do not stop a try.
  const examples = runInlineTests(candidate.rules.rules);
  for (const f of examples.failures) err.write(`FAIL ${f.ruleId} (${o.file}): expected ${f.expected === 'match' ? 'a match' : 'no match'} for ${JSON.stringify(f.example)}\n`);
  for (const f of runSequenceTests(candidate.stateful.rules, perEvent).failures) {
    err.write(`FAIL ${f.ruleId} (${o.file}): sequence ${JSON.stringify(f.test)} fired ${f.got} match${f.got === 1 ? '' : 'es'}, expected ${f.expected}\n`);
  }
  const ids = [...candidate.rules.rules.map((r) => r.spec.id), ...candidate.stateful.rules.map((r) => r.id)];
  err.write(`trying ${ids.length} rule${ids.length === 1 ? '' : 's'} from ${o.file} (${ids.join(', ')}); no incident is opened\n`);

  const write = (kind: 'history' | 'live', r: Parameters<typeof formatLine>[0], tried: TailVerdict[]) => {
    out.write(o.json ? JSON.stringify({ from: kind, ts: r.ts, team: r.team, channel: r.channel, channelKinds: r.channelKinds, user: r.user, eventType: r.eventType, tried }) + '\n' : `${kind.padEnd(7)}  ${formatLine(r, tried)}\n`);
  };
  const writeMatch = (kind: 'history' | 'live', m: Match) => out.write(o.json ? JSON.stringify({ from: kind, ...matchJson(m) }) + '\n' : `${kind.padEnd(7)}  ${formatMatch(m)}\n`);
  if (!o.json) out.write(`${'FROM'.padEnd(7)}  ${LINE_HEADER}\n`);

  if (sinceMs !== undefined) {
    const oldest = (Date.now() - sinceMs) / 1000;
    const tally = new Tally();
    const channels = new Set<string>();
    let skipped = 0;
    const facts: Fact[] = [];
    try {
      const client = historyClient(config, 'rules try --since');
      for await (const envelope of readHistory(client, { oldestSeconds: oldest, ...(o.channels ? { channels: o.channels } : {}) })) {
        channels.add(envelope.event.channel);
        let normalized;
        try {
          normalized = normalizeSlack(envelope as unknown as Record<string, unknown>, { requireTeam: false });
        } catch (e) {
          if (!(e instanceof MalformedEventError)) throw e;
          skipped += 1;
          continue;
        }
        if (normalized.kind === 'ignored') continue;
        const ev = normalized.event;
        const found = evaluate(ev, candidate.rules);
        const tried = verdictsOfFindings(found);
        tally.add(tried);
        if (tried.length) write('history', { ...ev, channelKinds: ev.channelKinds ?? [] }, tried);
        if (stateful) {
          const all = perEvent === candidate.rules ? found : evaluate(ev, perEvent);
          const fact = factOf(ev, all, { stateful: candidate.stateful, kmsChannels: new Set(Object.keys(config.kms.channelKeys)) });
          if (fact) facts.push(fact);
        }
      }
    } catch (e) {
      if (!(e instanceof HistoryError)) throw e;
      return fail(e.message, 1);
    }
    // History comes channel by channel: the evaluator takes the facts in event-time order, as a correlator would.
    if (stateful) {
      const evaluator = new Evaluator(candidate.stateful);
      facts.sort((a, b) => a.eventTime - b.eventTime || (a.id < b.id ? -1 : 1));
      for (const f of facts) {
        for (const m of evaluator.offer(f)) {
          tally.addMatch(m);
          writeMatch('history', m);
        }
      }
    }
    err.write(`history since ${new Date(oldest * 1000).toISOString()}, ${channels.size} channel${channels.size === 1 ? '' : 's'}: ${tally}${skipped ? `; ${skipped} messages not understood, skipped` : ''}\n`);
  }

  if (liveMs !== undefined) {
    const nc = await connectNats(config.nats, 'sentinel-rules-try');
    const tally = new Tally();
    const problems = new Set<string>();
    const evaluator = stateful ? new Evaluator(candidate.stateful) : undefined;
    const listener = new TailListener({
      nc,
      rules: { name, text },
      onJoined: (j) => {
        for (const p of j.problems) problems.add(`${j.detector}: ${p}`);
        err.write(`detector ${j.detector} is trying ${j.rules} rule${j.rules === 1 ? '' : 's'}${j.problems.length ? `, with problems: ${j.problems.join('; ')}` : ''}\n`);
      },
      onRecord: (r) => {
        const tried = r.tried ?? [];
        tally.add(tried);
        if (tried.length) write('live', r, tried);
        if (evaluator && r.fact) {
          for (const m of evaluator.offer(r.fact)) {
            tally.addMatch(m);
            writeMatch('live', m);
          }
        }
      },
    });
    await listener.start();
    err.write(`watching live events for ${o.live} (Ctrl-C ends it early)\n`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, liveMs);
      o.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    await listener.stop();
    await nc.drain().catch(() => undefined);
    const detectors = listener.detectors.size;
    err.write(`live for ${o.live}, ${detectors} detector${detectors === 1 ? '' : 's'}: ${tally}\n`);
    if (detectors === 0) err.write(`no detector answered: is one running against NATS_URL=${config.nats.servers.join(',')}?\n`);
    if (problems.size) return fail(`the detectors could not load the file: ${[...problems].join('; ')}`, 1);
  }
  return 0;
}
