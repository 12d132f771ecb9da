/**
 * An HTTP proxy in front of moto's KMS that throttles like AWS KMS does and counts what went
 * through. moto never throttles; AWS answers a share of requests over the account's quota with
 * HTTP 400 `{"__type":"ThrottlingException"}`. The KMS worker's endpoint points here, so its
 * requests meet throttling, and every DisableKey and ScheduleKeyDeletion that reached moto and
 * succeeded is on record per key.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { closeServer } from '../src/http/listen';
import { seededRandom } from '../src/random';

/** One request as the proxy handled it. */
export interface KmsRequest {
  at: number;
  /** The KMS operation, from X-Amz-Target (`TrentService.DisableKey` → `DisableKey`). */
  operation: string;
  keyId: string | undefined;
  /** HTTP status the client got. */
  status: number;
  /** Answered by the proxy with ThrottlingException, without reaching moto. */
  throttled: boolean;
}


/** The error body AWS KMS sends when it throttles (awsJson1_1 protocol). */
export const THROTTLING_BODY = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });

export class KmsThrottleProxy {
  readonly requests: KmsRequest[] = [];
  private server: Server | undefined;
  private share = 0;
  private until = 0;
  private flip: () => number = Math.random;
  private readonly upstream: URL;

  constructor(upstream: string) {
    this.upstream = new URL(upstream);
  }

  /** The endpoint to give the KMS worker (AWS_ENDPOINT_URL_KMS). */
  url = '';

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.url = `http://${host}:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  /** From now until `durationMs` later, answers `share` (0-1) of requests with ThrottlingException. */
  throttle(share: number, durationMs: number, seed?: number): void {
    this.share = share;
    this.until = Date.now() + durationMs;
    this.flip = seed === undefined ? Math.random : seededRandom(seed);
  }

  /** Successful requests of `operation` per key id (what reached moto and was done). */
  succeeded(operation: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.requests) if (r.operation === operation && r.status === 200 && r.keyId) counts.set(r.keyId, (counts.get(r.keyId) ?? 0) + 1);
    return counts;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.includes('.') ? target.slice(target.indexOf('.') + 1) : target || `${req.method} ${req.url}`;
    let keyId: string | undefined;
    try {
      const k = (JSON.parse(body.toString('utf8')) as { KeyId?: unknown }).KeyId;
      if (typeof k === 'string') keyId = k.includes('/') ? k.slice(k.lastIndexOf('/') + 1) : k;
    } catch {
      /* not a JSON request: no key to record */
    }
    const record = (status: number, throttled: boolean) => this.requests.push({ at: Date.now(), operation, keyId, status, throttled });

    if (target && Date.now() < this.until && this.flip() < this.share) {
      record(400, true);
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID(), 'x-amzn-errortype': 'ThrottlingException' });
      res.end(THROTTLING_BODY);
      return;
    }
    const headers = { ...req.headers, host: this.upstream.host };
    const up = request({ hostname: this.upstream.hostname, port: this.upstream.port, path: req.url, method: req.method, headers }, (upRes) => {
      record(upRes.statusCode ?? 502, false);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      record(502, false);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`kms proxy: upstream ${this.upstream.origin} failed: ${err.message}`);
    });
    up.end(body);
  }
}
