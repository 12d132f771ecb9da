/**
 * A redacted form of a matched value: enough for an operator to recognise it, never enough to use
 * it. Values of 12+ characters keep their first and last 3; shorter ones keep at most the first.
 * Whitespace inside (a PEM body's line breaks) becomes one space, so the form fits on a line.
 */
export function redact(value: string): string {
  const chars = [...value.trim().replace(/\s+/g, ' ')];
  const n = chars.length;
  if (n >= 12) return `${chars.slice(0, 3).join('')}${'*'.repeat(Math.min(n - 6, 16))}${chars.slice(-3).join('')}`;
  if (n >= 6) return `${chars[0]}${'*'.repeat(n - 1)}`;
  return '*'.repeat(n);
}
