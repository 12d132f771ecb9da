/** The correlator's metrics and readiness, read from its stats at scrape time. */
import type { NatsConnection } from 'nats';
import { Counter, Gauge } from 'prom-client';
import type { Correlator } from '../correlator/correlator';
import type { OpsServer } from './health';

export function watchCorrelator(ops: OpsServer, correlator: Correlator, nc: NatsConnection): void {
  const registers = [ops.registry];
  new Counter({
    name: 'sentinel_correlator_facts_total',
    help: 'Facts the correlator read, by outcome: used, duplicate (ignored), late (older than the lateness bound: counted, not used), malformed.',
    labelNames: ['outcome'],
    registers,
    collect() {
      const s = correlator.stats;
      this.reset();
      this.inc({ outcome: 'used' }, Math.max(0, s.facts - s.duplicates - s.late));
      this.inc({ outcome: 'duplicate' }, s.duplicates);
      this.inc({ outcome: 'late' }, s.late);
      this.inc({ outcome: 'malformed' }, s.malformed);
    },
  });
  new Counter({
    name: 'sentinel_correlator_matches_total',
    help: 'Stateful rule matches, and the incident starts they came to: new, existing (a replay or another correlator), failed (refused for good).',
    labelNames: ['outcome'],
    registers,
    collect() {
      const s = correlator.stats;
      this.reset();
      this.inc({ outcome: 'matched' }, s.matches);
      this.inc({ outcome: 'new' }, s.started);
      this.inc({ outcome: 'existing' }, s.alreadyStarted);
      this.inc({ outcome: 'failed' }, s.failedStarts);
    },
  });
  new Counter({
    name: 'sentinel_correlator_evictions_total',
    help: 'State dropped to stay within the memory bounds: facts of a full (rule, key), or whole (rule, key) states.',
    labelNames: ['what'],
    registers,
    collect() {
      const s = correlator.stats;
      this.reset();
      this.inc({ what: 'facts' }, s.evictedFacts);
      this.inc({ what: 'keys' }, s.evictedKeys);
    },
  });
  new Gauge({
    name: 'sentinel_correlator_live',
    help: '1 once the correlator has replayed its partitions and follows live, else 0.',
    registers,
    collect() {
      this.set(correlator.live ? 1 : 0);
    },
  });
  ops.ready('nats', () => (nc.isClosed() ? 'connection closed' : true));
  // Not ready while it replays: its matches would be late, and a new instance should not take traffic yet.
  ops.ready('following live', () => correlator.live || 'replaying its partitions');
}
