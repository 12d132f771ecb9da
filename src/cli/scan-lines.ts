/**
 * What `sentinel scan` does with its input: reads it in chunks and splits them into lines
 * (lineBatches), and turns each line into its findings (LineScanner). A finding becomes one JSON
 * line of output, a bad line or a candidate turned down (`--explain`) a note against the line's
 * number.
 */
import { evaluate, type CompiledRules, type EvaluateOptions } from '../engine/engine';
import { parseJson } from '../events/json';
import { MalformedEventError, normalizeSlack } from '../events/normalize';

/** Where the scan's counts stand. */
export interface ScanCounts {
  events: number;
  findings: number;
  skipped: number;
  explained: number;
}

/** Hears of a line's problem or explanation: `line` is the line's number, `text` what to say after `<input>:<line>: `. */
export type Note = (line: number, text: string) => void;

/**
 * Lines as readline reads them (crlfDelay: Infinity): ended by `\n`, `\r\n` or a lone `\r`; the text
 * after the last ending is a line when there is any.
 */
const LINE_END = /\r\n|\n|\r/;

export function splitLines(text: string): string[] {
  const lines = text.split(LINE_END);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Where the last whole line of `data` ends (after its line ending), or 0 when none does yet. */
function lastLineEnd(data: Buffer): number {
  for (let i = data.length - 1; i >= 0; i--) {
    const b = data[i];
    if (b === 10) return i + 1;
    // A \r at the very end may be the first half of a \r\n: the next chunk tells.
    if (b === 13 && i < data.length - 1) return i + 1;
  }
  return 0;
}

/**
 * The lines of `input`, a batch of whole lines per chunk read: one await per chunk rather than one
 * per line (readline's async iterator), which cost more than JSON.parse of a short line. The same
 * lines, numbered the same, as readline gives. A line longer than a chunk is carried until its end.
 */
export async function* lineBatches(input: AsyncIterable<Buffer>): AsyncGenerator<string[]> {
  let carry: Buffer[] = [];
  for await (const chunk of input) {
    const cut = lastLineEnd(chunk);
    if (cut === 0) {
      carry.push(chunk);
      continue;
    }
    const head = carry.length ? Buffer.concat([...carry, chunk.subarray(0, cut)]) : chunk.subarray(0, cut);
    carry = cut < chunk.length ? [chunk.subarray(cut)] : [];
    yield splitLines(head.toString('utf8'));
  }
  if (carry.length) yield splitLines(Buffer.concat(carry).toString('utf8'));
}

export class LineScanner {
  readonly counts: ScanCounts = { events: 0, findings: 0, skipped: 0, explained: 0 };
  private readonly options: EvaluateOptions;
  /** The line being scanned, for explanations heard during its evaluation. */
  private line = 0;
  private note: Note = () => {};

  constructor(
    private readonly rules: CompiledRules,
    options: Omit<EvaluateOptions, 'explain'>,
    explain: boolean,
  ) {
    this.options = { ...options };
    if (explain) {
      this.options.explain = (e) => {
        this.counts.explained += 1;
        const inside = e.encodings.length ? ` inside ${e.encodings.join(' inside ')}` : '';
        this.note(this.line, `${e.ruleId} turned down ${e.redacted} at ${e.start}-${e.end}${inside}: ${e.check} (${e.detail})`);
      };
    }
  }

  /** Scans line number `line`: each finding's JSON line (with its newline) goes onto `out`. */
  scan(text: string, line: number, out: string[], note: Note): void {
    if (text.trim() === '') return;
    const { counts } = this;
    let doc: unknown;
    try {
      doc = parseJson(text);
    } catch (e) {
      note(line, `${(e as Error).message}; line skipped`);
      counts.skipped += 1;
      return;
    }
    let normalized;
    try {
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MalformedEventError('not a JSON object');
      normalized = normalizeSlack(doc as Record<string, unknown>, { requireTeam: false });
    } catch (e) {
      if (!(e instanceof MalformedEventError)) throw e;
      note(line, `${e.message}; line skipped`);
      counts.skipped += 1;
      return;
    }
    counts.events += 1;
    if (normalized.kind === 'ignored') return;
    const ev = normalized.event;
    this.line = line;
    this.note = note;
    for (const f of evaluate(ev, this.rules, this.options)) {
      counts.findings += 1;
      out.push(
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
  }
}
