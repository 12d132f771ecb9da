/**
 * The operations endpoint every long-running Sentinel process serves on SENTINEL_HEALTH_PORT:
 *
 * - `GET /livez`: 200 while the process is up and its event loop answers (a wedged process does
 *   not answer at all, which an orchestrator's probe timeout catches);
 * - `GET /readyz`: 200 only when every readiness check passes (its dependencies reachable and the
 *   process doing its job); 503 with the failing checks otherwise, and from the moment it is told
 *   to stop (SIGTERM) while it drains, so that no new work is routed to it;
 * - `GET /metrics`: Prometheus text format (prom-client), the process's own metrics and Node's.
 *
 * Checks run on each probe, each bounded by a timeout, so a hung dependency reads as not ready
 * rather than as a hung probe.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, register as activityRegistry, Registry } from 'prom-client';
import { closeServer, listen } from '../http/listen';
import type { Logger } from '../log';

/** One readiness check: true when ready, else false or a short reason (never a secret). */
export type ReadinessCheck = () => boolean | string | Promise<boolean | string>;

/** A check slower than this counts as failing. */
const CHECK_TIMEOUT_MS = 2000;

export interface OpsServerOptions {
  component: string;
  /** The port to listen on; 0 picks a free one (tests). */
  port: number;
  host?: string;
  log?: Logger;
  /** Labels on every metric (e.g. the build id). */
  labels?: Record<string, string>;
}

export class OpsServer {
  readonly registry = new Registry();
  private readonly checks = new Map<string, ReadinessCheck>();
  private server: Server | undefined;
  private stopping: string | undefined;
  url = '';

  constructor(private readonly o: OpsServerOptions) {
    const labels = { component: o.component, ...(o.labels ?? {}) };
    this.registry.setDefaultLabels(labels);
    // One ops server per process: the activities' metrics carry the same labels.
    activityRegistry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry, prefix: 'sentinel_' });
  }

  /** Adds a readiness check under `name` (shown in /readyz). */
  ready(name: string, check: ReadinessCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /** From now on /readyz answers 503 with `reason`: the process is draining and takes no new work. */
  drain(reason = 'shutting down'): void {
    this.stopping ??= reason;
  }

  get draining(): boolean {
    return this.stopping !== undefined;
  }

  /** Runs every check once: the failing ones with their reasons. */
  async failing(): Promise<string[]> {
    if (this.stopping) return [`draining: ${this.stopping}`];
    const results = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const r = await Promise.race([
            Promise.resolve().then(check),
            new Promise<string>((resolve) => {
              timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
            }),
          ]);
          return r === true ? undefined : `${name}: ${r === false ? 'not ready' : r}`;
        } catch (err) {
          return `${name}: ${(err as Error)?.message ?? String(err)}`;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return results.filter((r): r is string => r !== undefined);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const text = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
      if (path === '/livez') return text(200, 'ok\n');
      if (path === '/readyz') {
        void this.failing().then(
          (failing) => (failing.length ? text(503, `not ready\n${failing.join('\n')}\n`) : text(200, `ok\n${[...this.checks.keys()].map((k) => `${k}: ok`).join('\n')}\n`)),
          (err: unknown) => text(503, `not ready\n${(err as Error).message}\n`),
        );
        return;
      }
      if (path === '/metrics') {
        // The process's own metrics and those the activities count (prom-client's default registry),
        // each registry rendered with its default labels (a merged registry would drop them).
        void Promise.all([this.registry.metrics(), activityRegistry.metrics()])
          .then(([own, activities]) => (activities.trim() ? `${own.trimEnd()}\n${activities}` : own))
          .then(
            (body) => text(200, body, this.registry.contentType),
            (err: unknown) => text(500, `could not collect metrics: ${(err as Error).message}\n`),
          );
        return;
      }
      text(404, 'not found: /livez, /readyz and /metrics are served here\n');
    });
    this.url = await listen(this.server, this.o.port, this.o.host ?? '0.0.0.0');
    this.o.log?.info('health and metrics served', { component: this.o.component, url: this.url, paths: ['/livez', '/readyz', '/metrics'] });
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await closeServer(s);
  }
}

/** Starts the ops server when SENTINEL_HEALTH_PORT is set; undefined (and nothing listening) when it is not. */
export async function startOps(port: number | undefined, o: Omit<OpsServerOptions, 'port'>): Promise<OpsServer | undefined> {
  if (port === undefined) return undefined;
  return new OpsServer({ ...o, port }).start();
}
