/** Secrets wrapped in base64, hex, percent-encoding and JSON escapes: found, and reported where they stand. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodedLayers } from '../../src/engine/decode';
import { evaluate, type Explanation } from '../../src/engine/engine';
import { loadRules } from '../../src/engine/load';
import type { ChatEvent } from '../../src/engine/types';
import { projectRoot } from '../../src/paths';

const rules = loadRules(join(projectRoot, 'rules'));
const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.000001', eventType: 'message', text });
// Made up for this test, in GitHub's classic PAT shape.
const PAT = 'ghp_s8GvvaXdnv6asntY3ymqYw93Aqpw1oaZNSGe';

describe('encoded secrets', () => {
  it('finds a token inside base64 and points at the base64 that holds it', () => {
    const wrapped = Buffer.from(`{"auth":"${PAT}"}`).toString('base64');
    const text = `the CI secret is ${wrapped} (base64)`;
    const [f, ...rest] = evaluate(event(text), rules).filter((x) => x.ruleId === 'github-pat');
    expect(rest).toEqual([]);
    expect(f!.encodings).toEqual(['base64']);
    // The span covers the base64 characters that encode the token, inside the base64 word.
    const at = text.indexOf(wrapped);
    expect(f!.start).toBeGreaterThanOrEqual(at);
    expect(f!.end).toBeLessThanOrEqual(at + wrapped.length);
    const decodedSpan = Buffer.from(text.slice(f!.start, f!.end), 'base64').toString('latin1');
    expect(decodedSpan).toContain(PAT.slice(4, -4));
    expect(f!.redacted).toBe('ghp****************SGe');
  });

  it('reads URL-safe base64 and hex too', () => {
    const urlSafe = Buffer.from(`>>>${PAT}???`).toString('base64url');
    expect(urlSafe).toMatch(/[-_]/);
    expect(evaluate(event(`token: ${urlSafe}`), rules).map((f) => [f.ruleId, f.encodings])).toContainEqual(['github-pat', ['base64']]);
    const hex = Buffer.from(PAT).toString('hex');
    expect(evaluate(event(`blob ${hex}`), rules).map((f) => [f.ruleId, f.encodings])).toContainEqual(['github-pat', ['hex']]);
  });

  it('finds a password in a percent-encoded connection string, positioned on the encoded text', () => {
    const text = 'DATABASE_URL=postgres%3A%2F%2Forders%3AxQ7%21vLm2%24pR9w%40db.acme.io%3A5432%2Forders';
    const f = evaluate(event(text), rules).find((x) => x.category === 'secret');
    expect(f).toBeDefined();
    expect(f!.encodings).toEqual(['percent']);
    expect(decodeURIComponent(text.slice(f!.start, f!.end))).toBe('xQ7!vLm2$pR9w');
  });

  it('undoes JSON string escapes', () => {
    const text = String.raw`payload: "{\"token\":\"ghp_s8GvvaXdnv6asntY3ymqYw93Aqpw1oaZ\u004eSGe\"}"`;
    const f = evaluate(event(text), rules).find((x) => x.ruleId === 'github-pat');
    expect(f?.encodings).toEqual(['json']);
    expect(text.slice(f!.start, f!.end)).toBe(String.raw`ghp_s8GvvaXdnv6asntY3ymqYw93Aqpw1oaZ\u004eSGe`);
  });

  it('goes two layers deep by default, and no deeper than asked', () => {
    const twice = Buffer.from(`secret=${Buffer.from(PAT).toString('base64')}`).toString('base64');
    expect(evaluate(event(twice), rules).find((f) => f.ruleId === 'github-pat')?.encodings).toEqual(['base64', 'base64']);
    expect(evaluate(event(twice), rules, { maxDecodeDepth: 1 }).find((f) => f.ruleId === 'github-pat')).toBeUndefined();
    expect(evaluate(event(Buffer.from(PAT).toString('base64')), rules, { maxDecodeDepth: 0 })).toEqual([]);
  });

  it('finds a plain secret once, not again in a decoded layer', () => {
    const text = String.raw`{"token": "${PAT}", "note": "a \"quoted\" word"}`;
    expect(evaluate(event(text), rules).filter((f) => f.ruleId === 'github-pat')).toHaveLength(1);
  });

  it('leaves ordinary base64, digests and ids alone', () => {
    for (const text of [
      'base64 of hello world is aGVsbG8gd29ybGQ=',
      'sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'request 0f8fad5b-d9cb-469f-a165-70867728950e failed',
      'see https://example.com/search?q=rotate%20keys%20safely',
    ]) {
      expect(evaluate(event(text), rules), text).toEqual([]);
    }
    // Random bytes in base64 (an image, a nonce) do not decode to text, so nothing is decoded.
    expect(decodedLayers(Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 97 + 13) % 256)).toString('base64'))).toEqual([]);
  });

  it('explains candidates a check turned down, with the redacted value and where it was', () => {
    const heard: Explanation[] = [];
    evaluate(event('use ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx or ghp_EXAMPLEvaXdnv6asntY3ymqYw93Aqpw1oaZN'), rules, { explain: (e) => heard.push(e) });
    expect(heard).toContainEqual(expect.objectContaining({ ruleId: 'github-pat', check: 'entropy', start: 4, end: 44, encodings: [] }));
    expect(heard).toContainEqual(expect.objectContaining({ ruleId: 'github-pat', check: 'placeholder', start: 48, end: 88, redacted: 'ghp****************aZN' }));
    expect(JSON.stringify(heard)).not.toContain('xxxxxxxxxxxxxxxxxxxxxxxx');
    expect(JSON.stringify(heard)).not.toContain('vaXdnv6asntY3');
  });
});
