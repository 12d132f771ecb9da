/**
 * The codec server: the Temporal Web UI sends it sealed payloads (POST …/decode) and gets them
 * back readable, for operators holding a token, and only from the configured UI origins. It speaks
 * Temporal's remote-codec protocol: `{"payloads":[{"metadata":{k: base64}, "data": base64}]}`.
 *
 * Who may decode: a request with `Authorization: Bearer <token>`, or a browser that signed in at
 * /login with a token (an HttpOnly, SameSite=Strict session cookie). Every request is logged with
 * its outcome and payload count, never with payload content.
 *
 * With `webUi` set, every other path is the Temporal Web UI, proxied: the UI and its codec endpoint
 * then share one origin, so the browser sends the sign-in cookie with the UI's codec calls by
 * itself. (Served from its own origin, the UI sends cookies cross-origin only when its server
 * enables "include credentials", which the development server cannot, or each user switches it
 * on in the browser.)
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Payload } from '@temporalio/common';
import type { EncryptionCodec } from '../crypto/codec';
import { parseJson } from '../events/json';
import { readBody } from '../http/body';
import { closeServer, listen } from '../http/listen';
import type { Logger } from '../log';

export interface CodecServerOptions {
  codec: EncryptionCodec;
  /** Accepted bearer tokens (two during a rotation). */
  tokens: string[];
  /** Origins whose pages may call the server (the Web UI's). */
  origins: string[];
  maxBodyBytes: number;
  log: Logger;
  /** How long a browser session lasts; default 8 hours. */
  sessionTtlMs?: number;
  /** The Temporal Web UI to serve at every other path (same origin as the codec endpoint); default none. */
  webUi?: string;
}

const SESSION_COOKIE = 'sentinel_codec_session';
const DEFAULT_SESSION_TTL_MS = 8 * 3600_000;

/** The last path segment decides the operation, so that the server can be mounted under any path. */
function operation(pathname: string): 'encode' | 'decode' | undefined {
  const last = pathname.replace(/\/+$/, '').split('/').pop();
  return last === 'encode' || last === 'decode' ? last : undefined;
}

/** Constant-time comparison through digests, so that lengths leak nothing either. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** A request body that is not the protocol's JSON; the message says where. */
export class BadRequest extends Error {}

function toBytes(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw new BadRequest(`${where} is not a base64 string`);
  return Buffer.from(value, 'base64');
}

/** Payloads from their proto3 JSON form (bytes as base64), as the protocol and `temporal … --output json` write them. */
export function payloadsFromJson(doc: unknown): Payload[] {
  const list = (doc as { payloads?: unknown } | null)?.payloads;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(list)) throw new BadRequest('expected {"payloads": [...]}');
  return list.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw new BadRequest(`payloads[${i}] is not an object`);
    const { metadata = {}, data = '' } = p as { metadata?: unknown; data?: unknown };
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new BadRequest(`payloads[${i}].metadata is not an object`);
    return {
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, toBytes(v, `payloads[${i}].metadata.${k}`)])),
      data: toBytes(data, `payloads[${i}].data`),
    };
  });
}

/** Payloads in their proto3 JSON form. */
export function payloadsToJson(payloads: Payload[]): { payloads: { metadata: Record<string, string>; data: string }[] } {
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
    })),
  };
}

const loginPage = (message = '') => `<!doctype html>
<html><head><meta charset="utf-8"><title>Sentinel codec server</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto">
<h1>Sentinel codec server</h1>
<p>Sign in with a codec-server token to see decoded incident payloads in the Temporal Web UI
(its Codec Server setting needs "Include cross-origin credentials").</p>
${message ? `<p><strong>${message}</strong></p>` : ''}
<form method="post" action="login"><input type="password" name="token" autocomplete="off" size="40" autofocus>
<button type="submit">Sign in</button></form>
</body></html>`;

export class CodecServer {
  private server: Server | undefined;
  /** Session id digest → expiry (ms). Only digests are kept: a memory dump yields no usable cookie. */
  private readonly sessions = new Map<string, number>();
  readonly stats = { decoded: 0, encoded: 0, unauthorized: 0, forbidden: 0, rejected: 0 };

  constructor(private readonly o: CodecServerOptions) {
    if (o.tokens.length === 0) throw new Error('the codec server needs at least one token (SENTINEL_CODEC_SERVER_TOKEN)');
  }

  /** Listens on host:port (0: a free port) and returns the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.error('codec server failure', { error: err });
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    return listen(this.server, port, host);
  }

  /** Whether it is accepting connections (readiness). */
  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  private allowedOrigin(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (!origin) return undefined;
    // The Web UI served from here calls from this server's own origin.
    if (this.o.webUi && req.headers.host && origin === `http://${req.headers.host}`) return origin;
    return this.o.origins.includes(origin) ? origin : undefined;
  }

  /** Passes a Web UI request to the UI and its answer back, without this server's session cookie. */
  private proxy(req: IncomingMessage, res: ServerResponse, url: URL, webUi: string): Promise<void> {
    const upstream = new URL(url.pathname + url.search, webUi);
    const headers: OutgoingHttpHeaders = { ...req.headers, host: upstream.host };
    const cookies = req.headers.cookie?.split(/;\s*/).filter((c) => !c.startsWith(`${SESSION_COOKIE}=`));
    if (cookies?.length) headers.cookie = cookies.join('; ');
    else delete headers.cookie;
    if (typeof headers.origin === 'string') headers.origin = upstream.origin;
    if (typeof headers.referer === 'string') headers.referer = new URL(url.pathname + url.search, upstream.origin).toString();
    return new Promise((resolve) => {
      const up = request(upstream, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', () => resolve(void res.destroy()));
      });
      up.on('error', (err) => {
        if (!res.headersSent) send(res, 502, { error: `the Web UI at ${webUi} did not answer: ${err.message}` });
        else res.destroy();
        resolve();
      });
      req.pipe(up);
    });
  }

  private cors(res: ServerResponse, origin: string): void {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'Origin');
  }

  /** Which configured token `presented` is (0-based), or -1. */
  private tokenIndex(presented: string): number {
    return this.o.tokens.findIndex((t) => sameSecret(t, presented));
  }

  /** Who is asking: `token#n` or `session`, or undefined when nobody authenticated. */
  private caller(req: IncomingMessage): string | undefined {
    const auth = req.headers.authorization;
    const bearer = auth?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (bearer) {
      const i = this.tokenIndex(bearer);
      return i >= 0 ? `token#${i + 1}` : undefined;
    }
    const cookie = req.headers.cookie?.split(/;\s*/).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (!cookie) return undefined;
    const digest = createHash('sha256').update(cookie.slice(SESSION_COOKIE.length + 1)).digest('hex');
    const expires = this.sessions.get(digest);
    if (expires === undefined) return undefined;
    if (expires < Date.now()) {
      this.sessions.delete(digest);
      return undefined;
    }
    return 'session';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://codec');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (url.pathname.replace(/\/+$/, '').endsWith('/login')) return this.login(req, res);
    const op = operation(url.pathname);
    if (!op && this.o.webUi) return this.proxy(req, res, url, this.o.webUi);
    if (!op) return send(res, 404, { error: 'not found: POST …/encode or …/decode' });

    const origin = req.headers.origin;
    const allowed = this.allowedOrigin(req);
    if (origin !== undefined && !allowed) {
      // A page from elsewhere: no CORS headers, so the browser keeps the answer from it.
      this.stats.forbidden += 1;
      this.o.log.warn('codec request from an origin that is not allowed', { origin, op });
      return send(res, 403, { error: `origin ${origin} is not allowed (SENTINEL_CODEC_SERVER_ORIGINS)` });
    }
    if (allowed) this.cors(res, allowed);
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, X-Namespace');
      res.setHeader('access-control-max-age', '600');
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });

    const who = this.caller(req);
    if (!who) {
      this.stats.unauthorized += 1;
      this.o.log.warn('codec request without a valid token', { op, origin });
      res.setHeader('www-authenticate', 'Bearer realm="sentinel-codec"');
      return send(res, 401, { error: 'a valid bearer token is required' });
    }

    const max = this.o.maxBodyBytes;
    if (Number(req.headers['content-length'] ?? 0) > max) return this.tooLarge(req, res, max);
    const body = await readBody(req, max);
    if (!body) return this.tooLarge(req, res, max);

    let payloads: Payload[];
    try {
      payloads = payloadsFromJson(parseJson(body.toString('utf8')));
    } catch (err) {
      this.stats.rejected += 1;
      const reason = (err as Error).message;
      this.o.log.warn('malformed codec request', { op, who, reason });
      return send(res, 400, { error: reason });
    }
    const namespace = req.headers['x-namespace'];
    let out: Payload[];
    try {
      out = op === 'decode' ? await this.o.codec.decode(payloads) : await this.o.codec.encode(payloads);
    } catch (err) {
      this.stats.rejected += 1;
      this.o.log.warn('codec request failed', { op, who, namespace, payloads: payloads.length, error: err });
      return send(res, 422, { error: (err as Error).message });
    }
    this.stats[op === 'decode' ? 'decoded' : 'encoded'] += payloads.length;
    this.o.log.info(op === 'decode' ? 'payloads decoded' : 'payloads encoded', { who, namespace, payloads: payloads.length, origin });
    send(res, 200, payloadsToJson(out));
  }

  private tooLarge(req: IncomingMessage, res: ServerResponse, max: number): void {
    this.stats.rejected += 1;
    res.setHeader('connection', 'close');
    res.once('finish', () => req.socket.destroy());
    this.o.log.warn('codec request over the size limit', { max });
    send(res, 413, { error: `body over ${max} bytes (SENTINEL_CODEC_SERVER_MAX_BODY_BYTES)` });
  }

  /** GET: the sign-in form. POST (form field `token`): a session cookie for the UI's requests. */
  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return html(res, 200, loginPage());
    if (req.method !== 'POST') return send(res, 405, { error: 'GET or POST' });
    const body = await readBody(req, 4096);
    const token = body ? new URLSearchParams(body.toString('utf8')).get('token') ?? '' : '';
    const i = this.tokenIndex(token);
    if (i < 0) {
      this.stats.unauthorized += 1;
      this.o.log.warn('codec server sign-in refused');
      return html(res, 401, loginPage('That token is not valid.'));
    }
    const ttl = this.o.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    const now = Date.now();
    for (const [digest, expires] of this.sessions) if (expires < now) this.sessions.delete(digest);
    const session = randomBytes(32).toString('base64url');
    this.sessions.set(createHash('sha256').update(session).digest('hex'), now + ttl);
    const secure = req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
    res.setHeader('set-cookie', `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(ttl / 1000)}${secure}`);
    this.o.log.info('codec server sign-in', { who: `token#${i + 1}` });
    html(res, 200, loginPage(`Signed in for ${Math.round(ttl / 3600_000)} hours. The Web UI can now show decoded payloads.`));
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function html(res: ServerResponse, status: number, page: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
  res.end(page);
}
