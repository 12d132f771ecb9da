/**
 * Socket Mode for the simulator: `apps.connections.open` hands out a WebSocket URL on the
 * simulator's own port; connected apps get `hello`, then each event as an `events_api` envelope,
 * redelivered (retry_attempt + 1) until the app acks it with its envelope_id.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventEnvelope } from './server';

export interface SocketDelivery {
  envelopeId: string;
  eventId: string;
  attempt: number;
  acked: boolean;
}

const PATH = '/socket-mode';
/** Unacked envelopes come again after this long (Slack waits a few seconds too). */
const REDELIVER_MS = 1500;
const MAX_ATTEMPTS = 4;

export class SocketModeHub {
  readonly deliveries: SocketDelivery[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private readonly tickets = new Set<string>();
  private readonly pending = new Map<string, { envelope: EventEnvelope; attempt: number; timer: NodeJS.Timeout }>();
  /** Interactive and slash-command envelopes waiting for their ack (which may carry a response payload). */
  private readonly requests = new Map<string, (ack: { acked: boolean; payload?: unknown }) => void>();
  private pinger: NodeJS.Timeout | undefined;

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://sim');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== PATH || !this.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
    });
    // Slack pings its Socket Mode clients; the SDK reconnects when the pings stop.
    this.pinger = setInterval(() => this.sockets.forEach((s) => s.ping()), 5000);
    this.pinger.unref();
  }

  /** A one-time WebSocket URL, as apps.connections.open returns it. */
  openUrl(baseUrl: string): string {
    const ticket = randomBytes(8).toString('hex');
    this.tickets.add(ticket);
    return `${baseUrl.replace(/^http/, 'ws')}${PATH}?ticket=${ticket}`;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Envelopes sent and not acked yet (each comes again until acked or out of attempts). */
  get unacked(): number {
    return this.pending.size;
  }

  /** Sends the event to a connected app; it comes again until acked. */
  deliver(envelope: EventEnvelope): void {
    if (this.sockets.size === 0) return;
    const envelopeId = randomBytes(8).toString('hex');
    this.send(envelopeId, envelope, 0);
  }

  /**
   * Sends an `interactive` or `slash_commands` envelope and waits up to 3 s for its ack, whose
   * `payload` is the app's immediate answer (accepts_response_payload). Not redelivered: Slack
   * does not retry interactions, the user clicks again.
   */
  request(type: 'interactive' | 'slash_commands', payload: unknown): Promise<{ acked: boolean; payload?: unknown }> {
    const socket = [...this.sockets][0];
    if (!socket) return Promise.resolve({ acked: false });
    const envelopeId = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.requests.delete(envelopeId);
        resolve({ acked: false });
      }, 3000);
      timer.unref();
      this.requests.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      socket.send(JSON.stringify({ envelope_id: envelopeId, payload, type, accepts_response_payload: true }));
    });
  }

  /** Asks every app to reconnect, as Slack does now and then. */
  refresh(): void {
    for (const s of this.sockets) s.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
  }

  close(): void {
    clearInterval(this.pinger);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of this.sockets) s.terminate();
    this.wss.close();
  }

  private send(envelopeId: string, envelope: EventEnvelope, attempt: number): void {
    const socket = [...this.sockets][0];
    const timer = setTimeout(() => {
      const p = this.pending.get(envelopeId);
      if (!p) return;
      this.pending.delete(envelopeId);
      if (attempt + 1 < MAX_ATTEMPTS) this.send(envelopeId, envelope, attempt + 1);
    }, REDELIVER_MS);
    timer.unref();
    this.pending.set(envelopeId, { envelope, attempt, timer });
    this.deliveries.push({ envelopeId, eventId: envelope.event_id, attempt, acked: false });
    socket?.send(
      JSON.stringify({
        envelope_id: envelopeId,
        payload: envelope,
        type: 'events_api',
        accepts_response_payload: false,
        retry_attempt: attempt,
        retry_reason: attempt ? 'timeout' : '',
      }),
    );
  }

  private connected(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      let msg: { envelope_id?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(String(data)) as { envelope_id?: unknown; payload?: unknown };
      } catch {
        return;
      }
      const id = typeof msg.envelope_id === 'string' ? msg.envelope_id : undefined;
      const request = id ? this.requests.get(id) : undefined;
      if (id && request) {
        this.requests.delete(id);
        request({ acked: true, ...(msg.payload !== undefined ? { payload: msg.payload } : {}) });
        return;
      }
      const p = id ? this.pending.get(id) : undefined;
      if (!id || !p) return;
      clearTimeout(p.timer);
      this.pending.delete(id);
      const d = this.deliveries.findLast((x) => x.envelopeId === id);
      if (d) d.acked = true;
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, connection_info: { app_id: 'A0SENTINEL' }, debug_info: { host: 'slack-sim' } }));
  }
}
