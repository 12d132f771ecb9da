/**
 * An HTTP proxy in front of a real server (moto, a simulator) that holds back the first requests
 * matching a predicate for a while before passing them on, and records what arrived and what the
 * server answered. A client that dies while its request is held never learns that the server
 * carried it out: the "done, but the answer was lost" case a crash test needs.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { closeServer, listen } from '../../src/http/listen';

export interface HeldRequest {
  method: string;
  path: string;
  /** When the proxy received it. */
  arrivedAt: number;
  /** The upstream's HTTP status, once forwarded. */
  status?: number;
}

export interface DelayProxyOptions {
  /** Where requests go, e.g. http://127.0.0.1:5000 (a path prefix is kept). */
  target: string;
  /** Which requests are of interest; they are recorded, and the first `hold` of them delayed. */
  matches(req: { method: string; path: string; body: string }): boolean;
  delayMs: number;
  /** How many matching requests to delay (default 1); later ones pass at once. */
  hold?: number;
}

export class DelayProxy {
  private server: Server | undefined;
  private held = 0;
  /** Every matching request, in arrival order. */
  readonly matched: HeldRequest[] = [];
  url = '';

  constructor(private readonly options: DelayProxyOptions) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        void this.forward(req, body).then(
          (up) => {
            res.writeHead(up.status, up.headers);
            res.end(up.body);
          },
          (err: Error) => {
            res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`delay proxy: ${err.message}`);
          },
        );
      });
    });
    this.url = await listen(this.server, 0, '127.0.0.1');
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await closeServer(s);
  }

  /** Matching requests the upstream answered with a 2xx. */
  succeeded(): HeldRequest[] {
    return this.matched.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  }

  private async forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let record: HeldRequest | undefined;
    if (this.options.matches({ method, path, body: body.toString('utf8') })) {
      record = { method, path, arrivedAt: Date.now() };
      this.matched.push(record);
      if (this.held < (this.options.hold ?? 1)) {
        this.held += 1;
        await new Promise((r) => setTimeout(r, this.options.delayMs));
      }
    }
    const target = new URL(this.options.target);
    const prefix = target.pathname.replace(/\/$/, '');
    const headers = { ...req.headers, host: target.host };
    return new Promise((resolve, reject) => {
      const up = request({ hostname: target.hostname, port: target.port, path: `${prefix}${path}`, method, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          if (record) record.status = res.statusCode ?? 0;
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && k !== 'transfer-encoding' && k !== 'connection') out[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(parts) });
        });
        res.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  }
}
