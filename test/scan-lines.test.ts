/** sentinel scan's line reader: the lines readline would give, whatever the chunks they arrive in. */
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { lineBatches } from '../src/cli/scan-lines';
import { rng } from './corpus/generators';

async function viaReadline(data: Buffer): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: Readable.from([data]), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

async function viaBatches(chunks: Buffer[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of lineBatches(Readable.from(chunks))) lines.push(...batch);
  return lines;
}

/** `data` cut at random places, some cuts between a \r and its \n or inside a multi-byte character. */
function chunked(data: Buffer, r: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = 1 + Math.floor(r() * (r() < 0.5 ? 8 : 200));
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

describe('scan line batches', () => {
  it('gives the lines and line numbers readline gives, for every kind of line ending and any chunking', async () => {
    const r = rng(11);
    const pieces = ['{"text":"a"}', '', '   ', 'é€😀 ünïcode', '\ufeff{"bom":1}', 'x'.repeat(300), '{"oops'];
    const ends = ['\n', '\r\n', '\r', '\n\n', '\r\r\n', '\r\n\r\n'];
    for (let round = 0; round < 200; round++) {
      let text = '';
      const count = Math.floor(r() * 30);
      for (let i = 0; i < count; i++) text += pieces[Math.floor(r() * pieces.length)]! + (i < count - 1 || r() < 0.5 ? ends[Math.floor(r() * ends.length)]! : '');
      const data = Buffer.from(text, 'utf8');
      const expected = await viaReadline(data);
      expect(await viaBatches(chunked(data, r)), JSON.stringify(text)).toEqual(expected);
      expect(await viaBatches([data])).toEqual(expected);
    }
  });

  it('carries a line longer than many chunks to its end, and ends with a last line that has no line ending', async () => {
    const long = 'y'.repeat(100_000);
    const data = Buffer.from(`first\n${long}\r\nlast`);
    const lines = await viaBatches(chunked(data, rng(3)));
    expect(lines).toEqual(['first', long, 'last']);
    expect(await viaBatches([])).toEqual([]);
  });
});
