/** A stateful match as an incident's input: the steps' coordinates and the rule, never text. */
import { statefulIncidentId, type IncidentInput, type StepRef } from '../../contract';
import type { Fact } from './fact';
import type { Match } from './evaluator';

function stepRefOf(f: Fact, m: Match): StepRef {
  const fileId = m.keyKind === 'file' ? m.key : f.files[0];
  return { team: f.team, channel: f.channel, user: f.user, ts: f.ts, eventType: f.eventType, ...(fileId ? { fileId } : {}), eventTime: f.eventTime };
}

const fill = (template: string, f: Fact, ruleId: string) =>
  template.replaceAll('{user}', f.user).replaceAll('{channel}', f.channel).replaceAll('{ts}', f.ts).replaceAll('{team}', f.team).replaceAll('{rule}', ruleId);

/**
 * The incident of a match. Its id comes from the first step's event, the rule and the key, so it
 * is the same however often the match is found. The message, user and channel are the last step's:
 * the act that completed the pattern (the share to outsiders, the third leak).
 */
export function matchIncident(m: Match, now = new Date()): IncidentInput {
  const first = m.facts[0]!;
  const last = m.facts[m.facts.length - 1]!;
  const r = m.rule;
  const keyChannel = r.kind === 'sequence' ? m.facts[r.keyChannelStep]?.channel : undefined;
  const span = Math.round((last.eventTime - first.eventTime) / 1000);
  const summary = `${r.kind} ${r.id} by ${m.keyKind} ${m.key}: ${m.facts.length} events over ${span} s`;
  return {
    incidentId: statefulIncidentId(first, r.id, m.key),
    source: last.source,
    team: last.team,
    channel: last.channel,
    user: last.user,
    ts: last.ts,
    rule: { id: r.id, description: r.incident.description, category: r.incident.category, severity: r.incident.severity, actions: r.incident.actions, message: fill(r.incident.message, last, r.id), approvalRequired: r.incident.approvalRequired },
    match: { redacted: summary, start: 0, end: 0 },
    detectedAt: now.toISOString(),
    steps: m.facts.map((f) => stepRefOf(f, m)),
    ...(keyChannel && keyChannel !== last.channel ? { keyChannel } : {}),
  };
}
