/**
 * The operator's side of the tail protocol (src/detector/tail.ts): announce, hear the detectors'
 * records, say goodbye. Shared by `sentinel tail` and `sentinel rules try --live`.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { TAIL_ANNOUNCE_EVERY_MS, TAIL_HELLO_SUBJECT, tailSubject, type TailHello, type TailJoined, type TailMessage, type TailRecord } from '../detector/tail';

export interface TailListenOptions {
  nc: NatsConnection;
  where?: string;
  /** A candidate rule file for the detectors to evaluate too (`rules try`). */
  rules?: { name: string; text: string };
  onJoined: (j: TailJoined) => void;
  onRecord: (r: TailRecord) => void;
}

/** One listener: announces itself until stop(), hands each message from the detectors to its callbacks. */
export class TailListener {
  readonly id = randomBytes(10).toString('hex');
  private subscription: Subscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly encoder = new TextEncoder();
  /** Detectors that answered, by name. */
  readonly detectors = new Set<string>();

  constructor(private readonly o: TailListenOptions) {}

  /** Subscribes first (the server sees it before the announcement), then announces now and every few seconds. */
  async start(): Promise<void> {
    const decoder = new TextDecoder();
    this.subscription = this.o.nc.subscribe(tailSubject(this.id), {
      callback: (err, m) => {
        if (err) return;
        let msg: TailMessage;
        try {
          msg = JSON.parse(decoder.decode(m.data)) as TailMessage;
        } catch {
          return;
        }
        if (msg?.v !== 1) return;
        if (msg.kind === 'joined') {
          this.detectors.add(msg.detector);
          this.o.onJoined(msg);
        } else if (msg.kind === 'event') {
          this.o.onRecord(msg);
        }
      },
    });
    await this.o.nc.flush();
    this.announce();
    this.timer = setInterval(() => this.announce(), TAIL_ANNOUNCE_EVERY_MS);
  }

  private announce(bye = false): void {
    const hello: TailHello = {
      v: 1,
      id: this.id,
      ...(bye ? { bye: true } : {}),
      ...(!bye && this.o.where !== undefined ? { where: this.o.where } : {}),
      ...(!bye && this.o.rules ? { rules: this.o.rules } : {}),
    };
    this.o.nc.publish(TAIL_HELLO_SUBJECT, this.encoder.encode(JSON.stringify(hello)));
  }

  /** Says goodbye (the detectors stop at once, not after their TTL) and stops listening. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (!this.subscription) return;
    this.announce(true);
    this.subscription.unsubscribe();
    this.subscription = undefined;
    await this.o.nc.flush().catch(() => undefined);
  }
}
