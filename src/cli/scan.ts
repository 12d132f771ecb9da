/**
 * `sentinel scan [--rules DIR] [FILE|-]`: JSON Lines of Slack events in (inner events or whole
 * event_callback envelopes), JSON Lines of findings out. A contract other tools rely on: see README.
 */
import { createReadStream } from 'node:fs';
import { parseJson } from '../events/json';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config';
import { fingerprinter } from '../crypto/fingerprint';
import { evaluate, type EvaluateOptions } from '../engine/engine';
import { formatProblem, loadRules } from '../engine/load';
import { MalformedEventError, normalizeSlack } from '../events/normalize';

export interface ScanOptions {
  rulesDir?: string;
  /** A file path, or `-` / undefined for standard input. */
  input?: string;
  stdout?: Writable;
  stderr?: Writable;
  /** Also say, on stderr, which check turned down each candidate a rule's pattern matched (redacted). */
  explain?: boolean;
  /** Layers of encoding to look inside (default 2; 0 turns decoding off). */
  decodeDepth?: number;
}

/** Exit code: 0, or 2 when the rules fail to load (then nothing is scanned). */
export async function scan(o: ScanOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const config = loadConfig();
  const rulesDir = o.rulesDir ?? config.rulesDir;
  // With a fingerprint key, findings carry the same fingerprints incidents do, to match them up.
  const options: EvaluateOptions = {
    ...(config.fingerprintKey ? { fingerprint: fingerprinter(config.fingerprintKey) } : {}),
    ...(o.decodeDepth !== undefined ? { maxDecodeDepth: o.decodeDepth } : {}),
  };
  let explained = 0;
  let where = '';
  if (o.explain) {
    options.explain = (e) => {
      explained += 1;
      const inside = e.encodings.length ? ` inside ${e.encodings.join(' inside ')}` : '';
      err.write(`${where}: ${e.ruleId} turned down ${e.redacted} at ${e.start}-${e.end}${inside}: ${e.check} (${e.detail})\n`);
    };
  }
  const rules = loadRules(rulesDir);
  if (rules.problems.length || rules.active.length === 0) {
    for (const p of rules.problems) err.write(`rules: ${formatProblem(p)}\n`);
    if (rules.active.length === 0) err.write(`rules: no enabled rules in ${rulesDir}\n`);
    return 2;
  }
  const source = !o.input || o.input === '-' ? process.stdin : createReadStream(o.input);
  const inputName = !o.input || o.input === '-' ? 'stdin' : o.input;
  const started = process.hrtime.bigint();
  let line = 0;
  let events = 0;
  let findings = 0;
  let skipped = 0;
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  };
  try {
    for await (const text of createInterface({ input: source, crlfDelay: Infinity })) {
      line += 1;
      if (text.trim() === '') continue;
      let doc: unknown;
      try {
        doc = parseJson(text);
      } catch (e) {
        err.write(`${inputName}:${line}: ${(e as Error).message}; line skipped\n`);
        skipped += 1;
        continue;
      }
      let normalized;
      try {
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MalformedEventError('not a JSON object');
        normalized = normalizeSlack(doc as Record<string, unknown>, { requireTeam: false });
      } catch (e) {
        if (!(e instanceof MalformedEventError)) throw e;
        err.write(`${inputName}:${line}: ${e.message}; line skipped\n`);
        skipped += 1;
        continue;
      }
      events += 1;
      if (normalized.kind === 'ignored') continue;
      const ev = normalized.event;
      where = `${inputName}:${line}`;
      for (const f of evaluate(ev, rules, options)) {
        findings += 1;
        pending.push(
          JSON.stringify({
            ts: ev.ts,
            channel: ev.channel,
            user: ev.user,
            team: ev.team || undefined,
            rule: f.ruleId,
            category: f.category,
            severity: f.severity,
            actions: f.actions,
            redacted: f.redacted,
            excerpt: f.excerpt,
            fingerprint: f.fingerprint,
            encodings: f.encodings,
            start: f.start,
            end: f.end,
          }) + '\n',
        );
      }
      if (pending.length >= 512) await flush();
    }
  } catch (e) {
    await flush();
    err.write(`scan: cannot read ${inputName}: ${(e as Error).message}\n`);
    return 1;
  }
  await flush();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  err.write(
    `scanned ${events} events in ${seconds.toFixed(2)} s (${Math.round(events / Math.max(seconds, 1e-9))} events/s): ${findings} findings` +
      (skipped ? `, ${skipped} lines skipped` : '') +
      (o.explain ? `, ${explained} candidates turned down` : '') +
      '\n',
  );
  return 0;
}
