/**
 * The Events API receiver: Slack's signed HTTP deliveries into the CHAT stream, raw JSON unchanged.
 * It verifies before it parses, answers url_verification, answers within Slack's 3 seconds, and
 * answers 503 when NATS cannot take the event so that Slack retries: never 2xx for an event that
 * was not stored. Interactivity requests (button clicks) and slash commands arrive signed the same
 * way, form-encoded, on their own paths, and go to the operator controls (controls.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseJson } from '../events/json';
import { readBody } from '../http/body';
import { listen } from '../http/listen';
import type { JetStreamClient } from 'nats';
import type { Logger } from '../log';
import type { SlackControls } from './controls';
import { ensureEnrichStream, ingestSubject } from './route';
import { verifySlackRequest } from './verify';

export interface BridgeOptions {
  js: JetStreamClient;
  signingSecret: string;
  log: Logger;
  host?: string;
  port?: number;
  /** Largest body accepted; default 1 MiB. */
  maxBodyBytes?: number;
  /** How long to wait for JetStream to store an event; default 2000 ms (Slack waits 3 s). */
  publishTimeoutMs?: number;
  /** Button clicks and /sentinel commands; without it, both are answered that the controls are off. */
  controls?: SlackControls;
}

export interface BridgeStats {
  stored: number;
  duplicates: number;
  rejected: number;
  unavailable: number;
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;

export class BridgeServer {
  readonly stats: BridgeStats = { stored: 0, duplicates: 0, rejected: 0, unavailable: 0 };
  private server: Server | undefined;
  private baseUrl = '';

  constructor(private readonly o: BridgeOptions) {}

  /** The Events API request URL to configure in Slack (or the simulator). */
  get eventsUrl(): string {
    return `${this.baseUrl}/slack/events`;
  }

  /** The interactivity request URL (button clicks) to configure in Slack. */
  get interactivityUrl(): string {
    return `${this.baseUrl}/slack/interactivity`;
  }

  /** The slash command's request URL to configure in Slack. */
  get commandsUrl(): string {
    return `${this.baseUrl}/slack/commands`;
  }

  async start(): Promise<this> {
    // File events wait in ENRICH for their files.info lookup (route.ts): it must exist before one arrives.
    await ensureEnrichStream(await this.o.js.jetstreamManager());
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.error('bridge request failed', { error: err });
        if (!res.headersSent) send(res, 500, { ok: false, error: 'internal error' });
      });
    });
    this.baseUrl = await listen(server, this.o.port, this.o.host);
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private reject(res: ServerResponse, status: number, reason: string, req: IncomingMessage): void {
    this.stats.rejected += 1;
    if (status === 413) {
      // The rest of an oversized body is not read: close the connection once the answer is out.
      res.setHeader('connection', 'close');
      res.once('finish', () => req.socket.destroy());
    }
    // Never the body: it may hold the very secret Sentinel exists to contain.
    this.o.log.warn('rejected Slack request', { status, reason, retry: req.headers['x-slack-retry-num'] });
    send(res, status, { ok: false, error: reason });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (!PATHS.has(url.pathname)) return send(res, 404, { ok: false, error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { ok: false, error: 'POST only' });

    const max = this.o.maxBodyBytes ?? 1 << 20;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return this.reject(res, 413, `body over ${max} bytes`, req);
    const body = await readBody(req, max);
    if (!body) return this.reject(res, 413, `body over ${max} bytes`, req);

    const verdict = verifySlackRequest(this.o.signingSecret, header(req, 'x-slack-request-timestamp'), header(req, 'x-slack-signature'), body);
    if (!verdict.ok) return this.reject(res, 401, verdict.reason, req);
    if (url.pathname !== '/slack/events') return this.control(url.pathname, body, req, res);

    let doc: Record<string, unknown>;
    try {
      const parsed: unknown = parseJson(body.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      doc = parsed as Record<string, unknown>;
    } catch (err) {
      return this.reject(res, 400, `malformed JSON: ${(err as Error).message}`, req);
    }

    if (doc.type === 'url_verification' && typeof doc.challenge === 'string') return send(res, 200, { challenge: doc.challenge });
    if (doc.type !== 'event_callback') {
      // Named only when it looks like a type name: the field may hold anything.
      const named = typeof doc.type === 'string' && /^[a-z_]{1,40}$/.test(doc.type) ? ` ${JSON.stringify(doc.type)}` : '';
      return this.reject(res, 400, `unknown payload type${named}`, req);
    }
    const event = doc.event as { type?: unknown } | undefined;
    if (typeof doc.team_id !== 'string' || !ID.test(doc.team_id)) return this.reject(res, 400, 'event_callback without a valid team_id', req);
    if (typeof doc.event_id !== 'string' || !ID.test(doc.event_id)) return this.reject(res, 400, 'event_callback without a valid event_id', req);
    if (typeof event?.type !== 'string' || !/^[a-z_]{1,64}$/.test(event.type)) return this.reject(res, 400, 'event_callback without a valid event.type', req);

    try {
      // The raw bytes, unchanged; Slack's event_id makes retried deliveries one stream message.
      // File events go to ENRICH first (route.ts), everything else straight to CHAT.
      const ack = await this.o.js.publish(ingestSubject('slack', doc.team_id, event.type), body, { msgID: doc.event_id, timeout: this.o.publishTimeoutMs ?? 2000 });
      if (ack.duplicate) this.stats.duplicates += 1;
      else this.stats.stored += 1;
      this.o.log.debug('event stored', { eventId: doc.event_id, seq: ack.seq, duplicate: ack.duplicate, retry: req.headers['x-slack-retry-num'] });
      send(res, 200, { ok: true });
    } catch (err) {
      this.stats.unavailable += 1;
      this.o.log.warn('could not store event; answered 503 so that Slack retries', { eventId: doc.event_id, error: err });
      send(res, 503, { ok: false, error: 'event store unavailable, retry later' });
    }
  }

  /** A verified interactivity request or slash command: answered at once, carried out by the controls after. */
  private control(path: string, body: Buffer, req: IncomingMessage, res: ServerResponse): void {
    const form = new URLSearchParams(body.toString('utf8'));
    const controls = this.o.controls;
    if (!controls) return send(res, 200, { response_type: 'ephemeral', text: 'Sentinel controls are not enabled on this bridge; use the sentinel CLI.' });
    let answer;
    if (path === '/slack/interactivity') {
      // https://api.slack.com/interactivity/handling#payloads: one form field, payload, holding JSON.
      const raw = form.get('payload');
      if (!raw) return this.reject(res, 400, 'interactivity request without a payload field', req);
      let payload: unknown;
      try {
        payload = parseJson(raw);
      } catch (err) {
        return this.reject(res, 400, `malformed payload JSON: ${(err as Error).message}`, req);
      }
      answer = controls.interaction(payload);
    } else {
      answer = controls.command(Object.fromEntries(form));
    }
    if (answer.body === undefined) {
      res.writeHead(answer.status);
      res.end();
    } else {
      send(res, answer.status, answer.body);
    }
  }
}

const PATHS = new Set(['/slack/events', '/slack/interactivity', '/slack/commands']);

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
