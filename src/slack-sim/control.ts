/** An HTTP client for the simulator's /_sim/ control surface (the demo drives a simulator in another process). */
import type { CallRecord, Delivery, EventEnvelope, Fault } from './server';
import type { SimMessage } from './workspace';

export class SimControl {
  constructor(private readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as { ok: boolean; error?: string } & T;
    if (!json.ok) throw new Error(`simulator ${method} ${path} failed: ${json.error ?? res.status}`);
    return json;
  }

  async post(user: string, channel: string, text: string): Promise<{ message: SimMessage; envelope: EventEnvelope }> {
    return this.call('POST', '/_sim/messages', { user, channel, text });
  }

  async events(after: number): Promise<EventEnvelope[]> {
    return (await this.call<{ events: EventEnvelope[] }>('GET', `/_sim/events?after=${after}`)).events;
  }

  async calls(method: string): Promise<CallRecord[]> {
    return (await this.call<{ calls: CallRecord[] }>('GET', `/_sim/calls?method=${encodeURIComponent(method)}`)).calls;
  }

  /** Has the simulator deliver its events, signed, to `url` (undefined: stop delivering). */
  async subscribe(url: string | undefined, signingSecret = ''): Promise<void> {
    await this.call('POST', '/_sim/subscription', url ? { url, signingSecret } : {});
  }

  async deliveries(): Promise<Delivery[]> {
    return (await this.call<{ deliveries: Delivery[] }>('GET', '/_sim/deliveries')).deliveries;
  }

  async fault(f: Fault): Promise<void> {
    await this.call('POST', '/_sim/faults', f);
  }
}
