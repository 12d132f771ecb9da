/**
 * The detector's metrics and readiness. Counters are read from the detector's own stats when
 * Prometheus scrapes (nothing is added to the per-event path); consumer lag is asked of JetStream at
 * scrape time, at most once every few seconds.
 */
import type { ConsumerInfo, NatsConnection } from 'nats';
import { Counter, Gauge } from 'prom-client';
import type { Detector } from '../detector/detector';
import { CHAT_STREAM, DETECTOR_CONSUMER } from '../nats/streams';
import type { OpsServer } from './health';

/** Consumer info is cached this long: a burst of scrapes does not become a burst of JetStream requests. */
const LAG_CACHE_MS = 2000;

export function watchDetector(ops: OpsServer, detector: Detector, nc: NatsConnection): void {
  const registers = [ops.registry];
  const s = detector.stats;
  let info: { at: number; value: Promise<ConsumerInfo | undefined> } | undefined;
  const consumer = (): Promise<ConsumerInfo | undefined> => {
    if (!info || Date.now() - info.at > LAG_CACHE_MS) {
      info = {
        at: Date.now(),
        value: nc
          .jetstreamManager()
          .then((jsm) => jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER))
          .catch(() => undefined),
      };
    }
    return info.value;
  };

  new Counter({
    name: 'sentinel_detector_events_total',
    help: 'Events the detector settled, by outcome: acked (opened no incident or opened them), ignored (not a chat message it matches), deadlettered (malformed or refused for good).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'handled' }, s.handled);
      this.inc({ outcome: 'ignored' }, s.ignored);
      this.inc({ outcome: 'deadlettered' }, s.deadlettered);
    },
  });
  new Counter({
    name: 'sentinel_detector_retries_total',
    help: 'Events sent back to JetStream to be tried again: Temporal could not start their incidents for now (start), or the held queue was full (overflow).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      this.inc({ reason: 'start' }, s.retried);
      this.inc({ reason: 'overflow' }, s.sentBack);
    },
  });
  new Counter({
    name: 'sentinel_findings_total',
    help: 'Rule matches that opened (or found already open) an incident, by rule.',
    labelNames: ['rule'],
    registers,
    collect() {
      this.reset();
      for (const [rule, n] of detector.findingsByRule) this.inc({ rule }, n);
    },
  });
  new Counter({
    name: 'sentinel_incident_starts_total',
    help: 'Incident starts by outcome: new (a workflow started) or existing (already started: a redelivery or a second detector).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'new' }, s.started);
      this.inc({ outcome: 'existing' }, s.alreadyStarted);
    },
  });
  new Counter({
    name: 'sentinel_detector_consume_restarts_total',
    help: 'Times the consume loop was re-created (consumer deleted, missed heartbeats, connection trouble).',
    registers,
    collect() {
      this.reset();
      this.inc(s.restarts);
    },
  });
  new Gauge({
    name: 'sentinel_detector_consumer_pending',
    help: 'Messages in CHAT not yet delivered to any detector (num_pending of the shared consumer).',
    registers,
    async collect() {
      const c = await consumer();
      if (c) this.set(c.num_pending);
    },
  });
  new Gauge({
    name: 'sentinel_detector_consumer_ack_pending',
    help: 'Messages delivered to detectors and not yet acknowledged (num_ack_pending of the shared consumer).',
    registers,
    async collect() {
      const c = await consumer();
      if (c) this.set(c.num_ack_pending);
    },
  });
  new Gauge({
    name: 'sentinel_detector_in_flight',
    help: 'Events in the start pool (incident starts and dead-letters under way) and held for it.',
    labelNames: ['lane'],
    registers,
    collect() {
      this.set({ lane: 'pool' }, detector.inFlightCount);
      this.set({ lane: 'held' }, detector.heldCount);
    },
  });

  ops.ready('nats', () => (nc.isClosed() ? 'connection closed' : true));
  ops.ready('consuming', () => detector.consuming || 'no consume loop running (starting, re-creating it, or stopping)');
}
