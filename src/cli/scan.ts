/**
 * `sentinel scan [--rules DIR] [FILE|-]`: JSON Lines of Slack events in (inner events or whole
 * event_callback envelopes), JSON Lines of findings out. A contract other tools rely on: see README.
 */
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config';
import { fingerprinter } from '../crypto/fingerprint';
import { formatProblem, loadRules } from '../engine/load';
import { LineScanner, lineBatches } from './scan-lines';

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

/** Bytes read at a time: a batch of whole lines is scanned per read. */
const READ_BYTES = 256 * 1024;

/** Exit code: 0, 1 when the input cannot be read, or 2 when the rules fail to load (then nothing is scanned). */
export async function scan(o: ScanOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const config = loadConfig();
  const rulesDir = o.rulesDir ?? config.rulesDir;
  const rules = loadRules(rulesDir);
  if (rules.problems.length || rules.active.length === 0) {
    for (const p of rules.problems) err.write(`rules: ${formatProblem(p)}\n`);
    if (rules.active.length === 0) err.write(`rules: no enabled rules in ${rulesDir}\n`);
    return 2;
  }
  // With a fingerprint key, findings carry the same fingerprints incidents do, to match them up.
  const scanner = new LineScanner(
    rules,
    {
      ...(config.fingerprintKey ? { fingerprint: fingerprinter(config.fingerprintKey) } : {}),
      ...(o.decodeDepth !== undefined ? { maxDecodeDepth: o.decodeDepth } : {}),
    },
    o.explain === true,
  );
  const source = !o.input || o.input === '-' ? process.stdin : createReadStream(o.input, { highWaterMark: READ_BYTES });
  const inputName = !o.input || o.input === '-' ? 'stdin' : o.input;
  const note = (line: number, text: string) => void err.write(`${inputName}:${line}: ${text}\n`);
  const started = process.hrtime.bigint();
  let line = 0;
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  };
  try {
    for await (const lines of lineBatches(source as AsyncIterable<Buffer>)) {
      for (const text of lines) scanner.scan(text, ++line, pending, note);
      await flush();
    }
  } catch (e) {
    await flush();
    err.write(`scan: cannot read ${inputName}: ${(e as Error).message}\n`);
    return 1;
  }
  await flush();
  const { events, findings, skipped, explained } = scanner.counts;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  err.write(
    `scanned ${events} events in ${seconds.toFixed(2)} s (${Math.round(events / Math.max(seconds, 1e-9))} events/s): ${findings} findings` +
      (skipped ? `, ${skipped} lines skipped` : '') +
      (o.explain ? `, ${explained} candidates turned down` : '') +
      '\n',
  );
  return 0;
}
