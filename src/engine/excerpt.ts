/**
 * A short, redacted excerpt of a message around one match, for an operator judging the incident.
 * Every match in the message appears only redacted, and any other word holding a digit, or long
 * enough to be a token, is masked too: an excerpt must not carry a secret no rule named.
 */
export interface MaskedSpan {
  start: number;
  end: number;
  redacted: string;
}

/** Characters of context kept on each side of the match. */
export const EXCERPT_CONTEXT = 40;
/** Words this long are masked even without digits: keys, tokens, URLs with paths. */
const LONG_WORD = 20;

function maskWord(word: string): string {
  if (!/\d/.test(word) && word.length < LONG_WORD) return word;
  return word.replace(/[\p{L}\p{N}]/gu, '*');
}

/** Masks the plain text between spans word by word, whitespace collapsed. */
function maskPlain(text: string): string {
  return text
    .split(/(\s+)/)
    .map((part, i) => (i % 2 === 1 ? ' ' : maskWord(part)))
    .join('');
}

/** The excerpt around `focus` in `text`; `spans` are all the matches in the message (they may overlap). */
export function excerpt(text: string, focus: { start: number; end: number }, spans: MaskedSpan[]): string {
  const ordered = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  let lo = Math.max(0, focus.start - EXCERPT_CONTEXT);
  let hi = Math.min(text.length, focus.end + EXCERPT_CONTEXT);
  // Start and end on word boundaries, and never inside a span.
  if (lo > 0) {
    const gap = text.slice(lo, focus.start).search(/\s/);
    lo = gap < 0 ? focus.start : lo + gap + 1;
  }
  if (hi < text.length) {
    const tail = text.slice(focus.end, hi);
    const gap = tail.search(/\s\S*$/);
    hi = gap < 0 ? focus.end : focus.end + gap;
  }
  for (const s of ordered) {
    if (s.start < lo && s.end > lo) lo = s.start;
    if (s.start < hi && s.end > hi) hi = s.end;
  }
  let out = lo > 0 ? '…' : '';
  let at = lo;
  for (const s of ordered) {
    if (s.end <= at || s.start >= hi) continue;
    if (s.start > at) out += maskPlain(text.slice(at, s.start));
    out += s.redacted;
    at = Math.max(at, s.end);
  }
  if (at < hi) out += maskPlain(text.slice(at, hi));
  if (hi < text.length) out += '…';
  return out.trim();
}

/**
 * The whole of `text` with every span replaced by its redacted form and the words between masked as
 * in an excerpt, line breaks kept: what a redacted message shows in place of the original.
 */
export function redactAll(text: string, spans: MaskedSpan[]): string {
  const ordered = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const plain = (s: string) =>
    s
      .split(/(\s+)/)
      .map((part, i) => (i % 2 === 1 ? part : maskWord(part)))
      .join('');
  let out = '';
  let at = 0;
  for (const s of ordered) {
    if (s.end <= at) continue;
    if (s.start > at) out += plain(text.slice(at, s.start));
    out += s.redacted;
    at = Math.max(at, s.end);
  }
  return out + plain(text.slice(at));
}
