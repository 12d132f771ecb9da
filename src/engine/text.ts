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

const ENTITY = /&(?:amp|lt|gt);/g;
const value: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };
/** The offset itself: the toOriginal of a text without entities. */
export const identityOffset = (o: number) => o;

export function matchText(delivered: string): MatchText {
  ENTITY.lastIndex = 0;
  if (!delivered.includes('&') || !ENTITY.test(delivered)) return { text: delivered, toOriginal: identityOffset };
  // at[i]: offset in the unescaped text just after entity i; shift[i]: characters removed up to it.
  const at: number[] = [];
  const shift: number[] = [];
  let removed = 0;
  const text = delivered.replace(ENTITY, (entity: string, offset: number) => {
    removed += entity.length - 1;
    at.push(offset - (removed - (entity.length - 1)) + 1);
    shift.push(removed);
    return value[entity]!;
  });
  return {
    text,
    toOriginal: (o) => {
      let s = 0;
      for (let i = 0; i < at.length && at[i]! <= o; i++) s = shift[i]!;
      return o + s;
    },
  };
}
