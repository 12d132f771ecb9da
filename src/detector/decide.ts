/** What the detector decides for one event: pure, no IO. */
import type { IncidentInput } from '../../contract';
import { evaluate, type CompiledRules } from '../engine/engine';
import type { ChatEvent, Finding } from '../engine/types';
import { incidentInput } from '../incidents/start';

export interface DecideOptions {
  /** The HMAC fingerprint of a matched value; incidents carry it instead of the value. */
  fingerprint: (value: string) => string;
  /** Layers of encoding the rules look inside; default the engine's. */
  decodeDepth?: number;
  now?: Date;
}

/** The incidents an event opens: one per rule that matched (its id is per rule; the first match is the one shown). */
export function decide(event: ChatEvent, rules: CompiledRules, o: DecideOptions): IncidentInput[] {
  const firstPerRule = new Map<string, Finding>();
  for (const f of evaluate(event, rules, { fingerprint: o.fingerprint, ...(o.decodeDepth !== undefined ? { maxDecodeDepth: o.decodeDepth } : {}) })) {
    if (!firstPerRule.has(f.ruleId)) firstPerRule.set(f.ruleId, f);
  }
  return [...firstPerRule.values()].map((f) => incidentInput(event, f, o.now));
}
