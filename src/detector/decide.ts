/** What the detector decides for one event: pure, no IO. */
import { CREDENTIAL_RULES, type IncidentInput } from '../../contract';
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

/** Rules whose value is an AWS secret access key: it goes with the access key id of the same message. */
const AWS_SECRET_RULES = new Set(['aws-secret-access-key', 'aws-secret-access-key-after-id', 'aws-secret-access-key-before-id']);

/**
 * The matched values of the event being decided, by fingerprint: the engine hands each value to the
 * fingerprint function and keeps only its fingerprint. One wrapper per fingerprint function, reused
 * across events, so that an event with no finding costs nothing here.
 */
interface Capture {
  fingerprint: (value: string) => string;
  values: Map<string, string>;
}
const captures = new WeakMap<(value: string) => string, Capture>();

function capturing(fingerprint: (value: string) => string): Capture {
  let c = captures.get(fingerprint);
  if (!c) {
    const values = new Map<string, string>();
    c = {
      values,
      fingerprint: (value) => {
        const fp = fingerprint(value);
        values.set(fp, value);
        return fp;
      },
    };
    captures.set(fingerprint, c);
  }
  return c;
}

/**
 * The incidents an event opens: one per rule that matched (its id is per rule; the first match is
 * the one shown). A rule whose value is a credential Sentinel can verify and revoke
 * (CREDENTIAL_RULES) carries it in the input (sealed by the payload codec, like all of the input),
 * an AWS access key id with the secret key leaked in the same message when there is one.
 */
export function decide(event: ChatEvent, rules: CompiledRules, o: DecideOptions): IncidentInput[] {
  // An event that names no message or no author (file_deleted: a file id only) has nothing to delete or anyone to tell.
  if (event.channel === '' || event.user === '') return [];
  const capture = capturing(o.fingerprint);
  if (capture.values.size) capture.values.clear();
  const firstPerRule = new Map<string, Finding>();
  let awsSecret: string | undefined;
  for (const f of evaluate(event, rules, { fingerprint: capture.fingerprint, ...(o.decodeDepth !== undefined ? { maxDecodeDepth: o.decodeDepth } : {}) })) {
    if (!firstPerRule.has(f.ruleId)) firstPerRule.set(f.ruleId, f);
    if (AWS_SECRET_RULES.has(f.ruleId) && f.fingerprint) awsSecret ??= capture.values.get(f.fingerprint);
  }
  const inputs: IncidentInput[] = [];
  for (const f of firstPerRule.values()) {
    const input = incidentInput(event, f, o.now);
    const kind = CREDENTIAL_RULES[f.ruleId];
    const value = kind && f.fingerprint ? capture.values.get(f.fingerprint) : undefined;
    if (kind && value) input.credential = { kind, value, ...(kind === 'aws-access-key' && awsSecret ? { secret: awsSecret } : {}) };
    inputs.push(input);
  }
  // The values leave with their incidents: none stays here past this event.
  if (capture.values.size) capture.values.clear();
  return inputs;
}
