/**
 * Slack escapes `&`, `<` and `>` in message text as `&amp;`, `&lt;` and `&gt;`. Rules match the
 * unescaped text; positions are mapped back to the text as delivered.
 */
export interface MatchText {
  /** What rules see. */
  text: string;
  /** Offset in `text` → offset in the delivered text; identity when nothing was escaped. */
  toOriginal(offset: number): number;
}

const entities: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };

export function matchText(delivered: string): MatchText {
  if (!delivered.includes('&')) return { text: delivered, toOriginal: (o) => o };
  const parts: string[] = [];
  // starts[i] = offset in `delivered` of unescaped character i
  const starts: number[] = [];
  for (let i = 0; i < delivered.length; ) {
    let consumed = 1;
    let ch = delivered[i]!;
    if (ch === '&') {
      for (const [entity, value] of Object.entries(entities)) {
        if (delivered.startsWith(entity, i)) {
          ch = value;
          consumed = entity.length;
          break;
        }
      }
    }
    parts.push(ch);
    starts.push(i);
    i += consumed;
  }
  starts.push(delivered.length);
  return { text: parts.join(''), toOriginal: (o) => starts[Math.min(o, starts.length - 1)]! };
}
