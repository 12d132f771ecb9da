/** The `sentinel` command as other tools and operators run it: a real child process. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths';
import { loadConfig } from '../src/config';
import { fingerprinter } from '../src/crypto/fingerprint';
import { generateKey } from '../src/crypto/keys';
import { secretValues, rng } from './corpus/generators';
import { testSecrets } from './support/secrets';

const bin = join(projectRoot, 'bin', 'sentinel.js');

async function sentinel(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, cwd: tmpdir() });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('sentinel scan', () => {
  it('writes one JSON finding per line, reports bad lines by number, and exits 0', async () => {
    const r = rng(5);
    const pat = secretValues['github-pat']!(r);
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-scan-'));
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ type: 'message', user: 'U1', channel: 'C1', ts: '1700000000.000100', text: `here: ${pat}` }),
        '{"type": "message", oops',
        JSON.stringify({ type: 'event_callback', team_id: 'T9', event_id: 'Ev1', event: { type: 'message', user: 'U2', channel: 'C2', ts: '1700000001.000200', text: 'SSN 287-65-4321 on file' } }),
        JSON.stringify({ type: 'message', user: 'U3', channel: 'C3', ts: '1700000002.000300', text: 'nothing to see' }),
        '[1,2,3]',
      ].join('\n') + '\n',
    );
    const { code, stdout, stderr } = await sentinel(['scan', file]);
    expect(code).toBe(0);
    const findings = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(findings).toEqual([
      { ts: '1700000000.000100', channel: 'C1', user: 'U1', rule: 'github-pat', category: 'secret', severity: 'critical', actions: ['delete', 'notify', 'revoke_credential'], redacted: expect.stringMatching(/^ghp\*+.{3}$/), excerpt: expect.stringMatching(/^here: ghp\*+.{3}$/), start: 6, end: 46 },
      { ts: '1700000001.000200', channel: 'C2', user: 'U2', team: 'T9', rule: 'us-ssn', category: 'pii', severity: 'high', actions: ['delete', 'notify'], redacted: '2**********', excerpt: 'SSN 2********** on file', start: 4, end: 15 },
    ]);
    // With a fingerprint key, findings carry the fingerprint an incident of the same secret would.
    const key = generateKey();
    const keyed = await sentinel(['scan', file], { SENTINEL_FINGERPRINT_KEY: key });
    const [first] = keyed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { fingerprint?: string });
    expect(first?.fingerprint).toBe(fingerprinter(Buffer.from(key, 'base64'))(pat));
    expect(stdout).not.toContain(pat);
    expect(stderr).toContain(`${file}:2: not valid JSON`);
    expect(stderr).toContain(`${file}:5: not a JSON object`);
    expect(stderr).toMatch(/scanned 3 events in [\d.]+ s \(\d+ events\/s\): 2 findings, 2 lines skipped/);
  });

  it('finds a secret inside base64 at its place, and --explain names the check that turned a candidate down, redacted', async () => {
    const r = rng(6);
    const pat = secretValues['github-pat']!(r);
    const wrapped = Buffer.from(`token=${pat}`).toString('base64');
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-scan-'));
    const file = join(dir, 'events.jsonl');
    const text = `ci blob: ${wrapped} and ghp_EXAMPLEvaXdnv6asntY3ymqYw93Aqpw1oaZN`;
    writeFileSync(file, JSON.stringify({ type: 'message', user: 'U1', channel: 'C1', ts: '1700000000.000100', text }) + '\n');
    const { code, stdout, stderr } = await sentinel(['scan', '--explain', file]);
    expect(code).toBe(0);
    const [finding, ...more] = stdout.trim().split('\n').map((l) => JSON.parse(l) as { rule: string; encodings: string[]; start: number; end: number });
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ rule: 'github-pat', encodings: ['base64'] });
    expect(Buffer.from(text.slice(finding!.start, finding!.end), 'base64').toString()).toContain(pat.slice(6, -6));
    expect(stderr).toMatch(new RegExp(`${file}:1: github-pat turned down ghp\\*+aZN at ${text.indexOf('ghp_EXAMPLE')}-${text.length}: placeholder`));
    expect(stderr).toMatch(/1 findings, \d+ candidates turned down/);
    expect(stdout + stderr).not.toContain(pat);
    expect(stdout + stderr).not.toContain('vaXdnv6asntY3');
    // Decoding off: the wrapped token is not found.
    const off = await sentinel(['scan', '--decode-depth', '0', file]);
    expect(off.stdout).toBe('');
    const bad = await sentinel(['scan', '--decode-depth', 'deep', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--decode-depth takes a whole number');
  });

  it('exits 2 without scanning when the rules fail to load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-badrules-'));
    writeFileSync(join(dir, 'bad.yaml'), 'rules:\n  - id: Bad Id\n');
    const { code, stdout, stderr } = await sentinel(['scan', '--rules', dir, '/dev/null']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${join(dir, 'bad.yaml')}:2: rules.0.id`);
  });
});

describe('sentinel rules test', () => {
  it('runs every inline example of the shipped pack', async () => {
    const { code, stdout } = await sentinel(['rules', 'test']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+ files, (\d+) rules, (\d+) examples: \2 passed, 0 failed\n$/);
  });

  it('fails when an example does not behave', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-inline-'));
    writeFileSync(join(dir, 'r.yaml'), 'rules:\n  - id: r\n    description: d\n    category: policy\n    severity: low\n    match: { keywords: [apple] }\n    actions: [notify]\n    tests: { match: [pear] }\n');
    const { code, stdout } = await sentinel(['rules', 'test', '--rules', dir]);
    expect(code).toBe(1);
    expect(stdout).toContain('FAIL r');
  });
});

describe('sentinel incidents', () => {
  it('says clearly when Temporal cannot be reached', async () => {
    const { code, stderr } = await sentinel(['incidents', 'show', 'incident/x'], { TEMPORAL_ADDRESS: '127.0.0.1:1', ...testSecrets() });
    expect(code).toBe(1);
    expect(stderr).toContain('cannot reach Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS)');
  });

  it('refuses to start without codec keys, and says how to make them', async () => {
    const { code, stderr } = await sentinel(['incidents', 'list'], { SENTINEL_CODEC_KEYS: '' });
    expect(code).toBe(2);
    expect(stderr).toContain('SENTINEL_CODEC_KEYS is not set');
    expect(stderr).toContain('sentinel.js keys generate');
  });

  it('names a malformed key without showing any of it', async () => {
    const short = 'k1:' + Buffer.alloc(16, 7).toString('base64');
    const { code, stderr } = await sentinel(['incidents', 'list'], { SENTINEL_CODEC_KEYS: short, SENTINEL_FINGERPRINT_KEY: 'not base64!' });
    expect(code).toBe(2);
    expect(stderr).toContain('SENTINEL_CODEC_KEYS=<hidden, 27 characters>: key "k1" is 16 bytes; 32 are required');
    expect(stderr).toContain('SENTINEL_FINGERPRINT_KEY=<hidden, 11 characters>: the key is not base64');
    expect(stderr).not.toContain(short.slice(3));
    expect(stderr).not.toContain('not base64!');
  });
});

describe('sentinel keys generate', () => {
  it('prints keys the configuration accepts, and puts a rotated key first', async () => {
    const { code, stdout } = await sentinel(['keys', 'generate']);
    expect(code).toBe(0);
    const env = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(Object.keys(env).sort()).toEqual(['SENTINEL_CODEC_KEYS', 'SENTINEL_CODEC_SERVER_TOKEN', 'SENTINEL_FINGERPRINT_KEY']);
    const config = loadConfig(env);
    expect(config.codec?.keys).toHaveLength(1);
    expect(config.fingerprintKey).toHaveLength(32);
    const rotated = await sentinel(['keys', 'generate', '--rotate'], { SENTINEL_CODEC_KEYS: env.SENTINEL_CODEC_KEYS });
    const line = rotated.stdout.split('\n').find((l) => l.startsWith('SENTINEL_CODEC_KEYS='))!;
    const next = loadConfig({ SENTINEL_CODEC_KEYS: line.slice('SENTINEL_CODEC_KEYS='.length) }).codec!;
    expect(next.keys.map((k) => k.id)).toEqual([next.active.id, config.codec!.active.id]);
    expect(next.active.id).not.toBe(config.codec!.active.id);
  });
});
