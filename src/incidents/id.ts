/**
 * Incident workflow ids, derived from the event's coordinates and the rule, never from its text:
 * a redelivered event maps to the same id, so Temporal refuses the second start.
 */
export interface MessageCoordinates {
  source: string;
  team: string;
  channel: string;
  ts: string;
}

export function incidentId(m: MessageCoordinates, ruleId: string): string {
  const parts = { source: m.source, team: m.team, channel: m.channel, ts: m.ts, ruleId };
  for (const [k, v] of Object.entries(parts)) {
    if (!v || v.includes('/')) throw new Error(`incident id part ${k}=${JSON.stringify(v)} is empty or contains "/"`);
  }
  return `incident/${m.source}/${m.team}/${m.channel}/${m.ts}/${ruleId}`;
}
