/** The codec server over real HTTP: who may decode, from which origin, and how much. */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodecServer, payloadsFromJson, payloadsToJson } from '../src/codec-server/server';
import { EncryptionCodec } from '../src/crypto/codec';
import { generateKey } from '../src/crypto/keys';
import { closeServer, listen } from '../src/http/listen';
import { createLogger } from '../src/log';

const key = { id: 'k1', key: Buffer.from(generateKey(), 'base64') };
const codec = new EncryptionCodec([key], key);
const token = 'tok-' + generateKey(24);
const uiOrigin = 'http://127.0.0.1:8233';
const lines: string[] = [];

const toJson = (p: Payload) => payloadsToJson([p]).payloads[0]!;

describe('codec server', () => {
  let server: CodecServer;
  let url: string;
  let sealed: unknown;

  beforeAll(async () => {
    server = new CodecServer({ codec, tokens: [token], origins: [uiOrigin], maxBodyBytes: 64 * 1024, log: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
    url = await server.start();
    const [p] = await codec.encode([defaultPayloadConverter.toPayload({ match: { redacted: 'ghp*****xyz', fingerprint: 'hmac-sha256:abc' } })]);
    sealed = { payloads: [toJson(p!)] };
  });
  afterAll(() => server.stop());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('decodes for a bearer of the token, from the UI origin, with CORS headers for it', async () => {
    const res = await post('/decode', sealed, { authorization: `Bearer ${token}`, origin: uiOrigin, 'x-namespace': 'default' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    const decoded = defaultPayloadConverter.fromPayload(payloadsFromJson(await res.json())[0]!);
    expect(decoded).toEqual({ match: { redacted: 'ghp*****xyz', fingerprint: 'hmac-sha256:abc' } });
  });

  it('answers 401 without a token or with a wrong one, and decodes nothing', async () => {
    const none = await post('/decode', sealed, { origin: uiOrigin });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(JSON.stringify(await none.json())).not.toContain('ghp');
    expect((await post('/decode', sealed, { authorization: 'Bearer wrong-token-of-some-length' })).status).toBe(401);
    expect((await post('/decode', sealed, { authorization: `Basic ${token}` })).status).toBe(401);
  });

  it('answers preflights from the UI origin and refuses other origins without CORS headers', async () => {
    const pre = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: uiOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    const evil = await post('/decode', sealed, { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('caps the body size and rejects malformed requests without quoting them', async () => {
    const big = await post('/decode', { payloads: [{ metadata: {}, data: 'A'.repeat(70 * 1024) }] }, { authorization: `Bearer ${token}` }).catch((e: Error) => e);
    if (big instanceof Error) throw big;
    expect(big.status).toBe(413);
    const bad = await post('/decode', '{"payloads": hunter2hunter2', { authorization: `Bearer ${token}` });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain('hunter2');
    expect((await post('/decode', { payloads: [{ data: 'not base64!' }] }, { authorization: `Bearer ${token}` })).status).toBe(400);
  });

  it('says which key is missing when a payload was sealed under a key it does not hold', async () => {
    const other = { id: 'retired', key: Buffer.from(generateKey(), 'base64') };
    const [p] = await new EncryptionCodec([other], other).encode([defaultPayloadConverter.toPayload('x')]);
    const res = await post('/decode', { payloads: [toJson(p!)] }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toContain('sealed with key "retired"');
  });

  it('encodes for the UI too (signals sent from it), under the active key', async () => {
    const plain = defaultPayloadConverter.toPayload({ reason: 'false positive' });
    const res = await post('/encode', { payloads: [toJson(plain)] }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(payloads[0]!.metadata['encryption-key-id']!, 'base64').toString()).toBe('k1');
  });

  it('lets a browser sign in with the token and then decode with its session cookie', async () => {
    const refused = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }) });
    expect(refused.status).toBe(401);
    const login = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ token }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    expect(cookie).not.toContain(token);
    const session = cookie.split(';')[0]!;
    expect((await post('/decode', sealed, { cookie: session, origin: uiOrigin })).status).toBe(200);
    expect((await post('/decode', sealed, { cookie: 'sentinel_codec_session=forged' })).status).toBe(401);
  });

  it('logs who decoded how many payloads, never the tokens or the payloads', () => {
    const log = lines.join('\n');
    expect(log).toContain('"msg":"payloads decoded"');
    expect(log).toContain('"who":"token#1"');
    expect(log).not.toContain(token);
    expect(log).not.toContain('ghp*****xyz');
    expect(log).not.toContain('hunter2');
  });

  it('serves a Web UI on its own origin: the page and its API proxied, decodes allowed from itself with the sign-in cookie', async () => {
    // A stand-in for the Temporal Web UI's server: real HTTP, echoing what it was sent.
    const seen: { path: string; cookie?: string; host?: string }[] = [];
    const ui = createServer((req, res) => {
      seen.push({ path: req.url ?? '', ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}), ...(req.headers.host ? { host: req.headers.host } : {}) });
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': '_csrf=abc; Path=/' });
      res.end(`<title>Temporal</title>${req.method} ${req.url}`);
    });
    const uiUrl = await listen(ui);
    const proxy = new CodecServer({ codec, tokens: [token], origins: [uiOrigin], maxBodyBytes: 64 * 1024, log: createLogger({ level: 'warn', write: () => undefined }), webUi: uiUrl });
    const base = await proxy.start();
    try {
      // Sign in: a session cookie.
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}`, redirect: 'manual' });
      const session = login.headers.get('set-cookie')!.split(';')[0]!;
      // The UI's pages and API come through, with its cookies; Sentinel's session cookie stays here.
      const page = await fetch(`${base}/namespaces/default/workflows?x=1`, { headers: { cookie: `${session}; _csrf=abc` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toBe('<title>Temporal</title>GET /namespaces/default/workflows?x=1');
      expect(page.headers.get('set-cookie')).toBe('_csrf=abc; Path=/');
      expect(seen.at(-1)).toEqual({ path: '/namespaces/default/workflows?x=1', cookie: '_csrf=abc', host: new URL(uiUrl).host });
      // The UI's decode call, from this origin, with the cookie the browser sends by itself.
      const decoded = await fetch(`${base}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base, cookie: session }, body: JSON.stringify(sealed) });
      expect(decoded.status).toBe(200);
      // Without the cookie, still 401; the codec paths are never proxied.
      expect((await fetch(`${base}/decode`, { method: 'POST', headers: { origin: base }, body: JSON.stringify(sealed) })).status).toBe(401);
      expect(seen.some((r) => r.path.endsWith('/decode'))).toBe(false);
    } finally {
      await proxy.stop();
      await closeServer(ui);
    }
  });
});
