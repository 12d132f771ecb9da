/** Counts per ASCII character, reused (the engine is synchronous) and cleared after each value. */
const asciiCounts = new Int32Array(128);
/** The distinct characters of the value being measured, in the order they first occur. */
const order: number[] = [];

/** Shannon entropy in bits per character: random tokens score high, words and placeholders low. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return byMap(s);
  // Counted in an array rather than a map: the same terms summed in the same order (as the
  // characters first occur), so the same result to the last bit.
  order.length = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (asciiCounts[c] === 0) order.push(c);
    asciiCounts[c]! += 1;
  }
  let h = 0;
  for (const c of order) {
    const p = asciiCounts[c]! / s.length;
    h -= p * Math.log2(p);
    asciiCounts[c] = 0;
  }
  return h;
}

/** The same for a value with non-ASCII characters. */
function byMap(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
