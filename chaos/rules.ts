/** The run's rules, and the oracle that says which incidents a posted event must open. */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledRules } from '../src/engine/engine';
import { evaluate } from '../src/engine/engine';
import { packDir } from '../src/engine/load';
import { normalize } from '../src/events/normalize';
import { KMS_RULE, TEAM, type Screen } from './plan';

/** Copies the shipped pack into `dir` with the tutorial's KMS rule ([revoke_kms, notify]) turned on; returns `dir`. */
export function prepareRules(dir: string, from = packDir): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(from)) if (/\.(ya?ml|toml)$/.test(f)) copyFileSync(join(from, f), join(dir, f));
  const file = join(dir, 'tutorial.yaml');
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(`- id: ${KMS_RULE}`);
  const end = text.indexOf('- id: ', at + 1);
  const block = text.slice(at, end < 0 ? undefined : end);
  if (at < 0 || !block.includes('enabled: false')) throw new Error(`rules/tutorial.yaml has no disabled rule ${KMS_RULE} to turn on`);
  writeFileSync(file, text.slice(0, at) + block.replace('enabled: false', 'enabled: true') + (end < 0 ? '' : text.slice(end)));
  return dir;
}

/**
 * The rules an event matches, one entry per rule (the detector opens one incident per rule per
 * message), as the detector would see the event on `chat.slack.<team>.message`.
 */
export function rulesFor(rules: CompiledRules, envelope: unknown): { ruleId: string; actions: string[] }[] {
  const n = normalize(`chat.slack.${TEAM}.message`, new TextEncoder().encode(JSON.stringify(envelope)));
  if (n.kind !== 'event') return [];
  const seen = new Map<string, string[]>();
  for (const f of evaluate(n.event, rules, { fingerprint: () => 'hmac-sha256:0' })) if (!seen.has(f.ruleId)) seen.set(f.ruleId, f.actions);
  return [...seen].map(([ruleId, actions]) => ({ ruleId, actions }));
}

/** A Screen for makePlan: the rule ids a text matches when `user` posts it in public `channel`. */
export function screenWith(rules: CompiledRules): Screen {
  return (text, channel, user) =>
    rulesFor(rules, { type: 'event_callback', team_id: TEAM, event_id: 'EvSCREEN', event: { type: 'message', channel, channel_type: 'channel', user, ts: '1700000000.000001', text } }).map((r) => r.ruleId);
}
