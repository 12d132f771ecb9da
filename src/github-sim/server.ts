/**
 * A small GitHub REST API simulator: the two calls Sentinel makes about a leaked token, in GitHub's
 * wire format, so that the real HTTP client code runs against it in tests and the dev stack.
 *
 * - `GET /user` (https://docs.github.com/en/rest/users/users#get-the-authenticated-user): with
 *   `Authorization: Bearer <token>` (or `token <token>`), 200 and the user for a live token; 401
 *   `{"message":"Bad credentials"}` for an unknown or revoked one.
 * - `POST /credentials/revoke` (https://docs.github.com/en/rest/credentials/revoke): unauthenticated,
 *   body `{"credentials": [...]}` (1 to 1000 strings); 202 Accepted; 422 when the body is not that
 *   or the caller is over the limit (60 requests an hour, as GitHub documents; configurable);
 *   403 when the request is authenticated. Revoked tokens answer 401 from then on. Accepts the
 *   kinds GitHub lists: ghp_, github_pat_, gho_, ghu_, ghr_.
 *
 * Control endpoints under /_sim/: create a token for a user, list revocations, set faults.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody } from '../http/body';
import { closeServer, listen } from '../http/listen';

export interface GithubSimOptions {
  port?: number;
  host?: string;
  /** Revocation requests allowed per hour (GitHub: 60). */
  revokesPerHour?: number;
}

interface TokenRecord {
  token: string;
  login: string;
  id: number;
  revoked: boolean;
}

/** One call the simulator answered, for tests to count (tokens never recorded, only their prefix). */
export interface GithubCall {
  method: string;
  path: string;
  status: number;
  at: number;
}

/** The token kinds POST /credentials/revoke accepts. */
const REVOCABLE = /^(ghp_|github_pat_|gho_|ghu_|ghr_)[A-Za-z0-9_]+$/;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class GithubSimulator {
  private server: Server | undefined;
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly revokeTimes: number[] = [];
  private nextId = 1000;
  /** Every call, in order. */
  readonly calls: GithubCall[] = [];
  /** Tokens revoked through /credentials/revoke, in order (the simulator's own record of them). */
  readonly revocations: { login: string; at: number }[] = [];
  /** Answers the next N calls to `path` with `status` (500, 503, …) before handling them. */
  private readonly faults: { path: string; status: number; remaining: number }[] = [];
  url = '';

  constructor(private readonly options: GithubSimOptions = {}) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.url = await listen(this.server, this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await closeServer(s);
  }

  /** Makes a live token of `kind` for `login`, as a user creating a token in their settings would. */
  createToken(login: string, kind: 'ghp_' | 'github_pat_' | 'gho_' | 'ghu_' | 'ghr_' = 'ghp_'): string {
    const random = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');
    const token = kind === 'github_pat_' ? `github_pat_${random(22)}_${random(59)}` : `${kind}${random(36)}`;
    this.tokens.set(token, { token, login, id: this.nextId++, revoked: false });
    return token;
  }

  /** Whether `token` still authenticates. */
  isLive(token: string): boolean {
    const t = this.tokens.get(token);
    return t !== undefined && !t.revoked;
  }

  fault(path: string, status: number, times = 1): void {
    this.faults.push({ path, status, remaining: times });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (!url.pathname.startsWith('/_sim/')) this.calls.push({ method: req.method ?? 'GET', path: url.pathname, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-api-version-selected': '2022-11-28', ...headers });
      res.end(status === 202 || status === 204 ? '' : JSON.stringify(body));
    };
    try {
      const fault = this.faults.find((f) => f.path === url.pathname && f.remaining > 0);
      if (fault) {
        fault.remaining -= 1;
        return send(fault.status, { message: 'Server Error' });
      }
      switch (route) {
        case 'GET /user': {
          const token = bearer(req);
          const t = token ? this.tokens.get(token) : undefined;
          if (!t || t.revoked) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
          return send(200, { login: t.login, id: t.id, type: 'User' });
        }
        case 'POST /credentials/revoke': {
          if (req.headers.authorization) return send(403, { message: 'Must not be authenticated', status: '403' });
          const now = Date.now();
          while (this.revokeTimes.length && this.revokeTimes[0]! <= now - 3_600_000) this.revokeTimes.shift();
          const limit = this.options.revokesPerHour ?? 60;
          if (this.revokeTimes.length >= limit) return send(422, { message: 'Validation Failed: the endpoint has been spammed', status: '422' });
          const raw = await readBody(req, 1 << 20);
          let body: unknown;
          try {
            body = raw ? JSON.parse(raw.toString('utf8')) : undefined;
          } catch {
            body = undefined;
          }
          const list = (body as { credentials?: unknown } | undefined)?.credentials;
          if (!Array.isArray(list) || list.length === 0 || list.length > 1000 || !list.every((c) => typeof c === 'string' && REVOCABLE.test(c))) {
            return send(422, { message: 'Validation Failed', errors: [{ field: 'credentials', code: 'invalid' }], status: '422' });
          }
          this.revokeTimes.push(now);
          for (const c of list as string[]) {
            const t = this.tokens.get(c);
            if (t && !t.revoked) {
              t.revoked = true;
              this.revocations.push({ login: t.login, at: now });
            }
          }
          return send(202, undefined);
        }
        case 'POST /_sim/tokens': {
          const raw = await readBody(req, 1 << 16);
          const b = JSON.parse(raw?.toString('utf8') || '{}') as { login?: string; kind?: 'ghp_' | 'github_pat_' | 'gho_' | 'ghu_' | 'ghr_' };
          return send(200, { token: this.createToken(b.login ?? 'octocat', b.kind ?? 'ghp_') });
        }
        case 'GET /_sim/revocations':
          return send(200, { revocations: this.revocations });
        case 'GET /_sim/status':
          return send(200, { ok: true, tokens: this.tokens.size, revoked: this.revocations.length });
        default:
          return send(404, { message: 'Not Found', status: '404' });
      }
    } catch (err) {
      if (!res.headersSent) send(500, { message: (err as Error).message });
    }
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(h);
  return m?.[1];
}
