/**
 * The built-in detector pack against a labeled corpus generated here (see corpus/generators.ts):
 * per detector, leaks of fresh values and near misses; plus ordinary chat full of look-alikes.
 * Prints precision and recall per detector.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/engine/engine';
import { loadRules } from '../src/engine/load';
import type { ChatEvent } from '../src/engine/types';
import { projectRoot } from '../src/paths';
import { leak, nearMisses, ordinaryChat, rng, secretValues } from './corpus/generators';

const POSITIVES_PER_DETECTOR = 60;
const ORDINARY_MESSAGES = 3000;

const rules = loadRules(join(projectRoot, 'rules'));
const detectors = rules.rules.filter((r) => r.spec.enabled && (r.spec.category === 'secret' || r.spec.category === 'pii')).map((r) => r.spec.id);
const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text });

interface Labeled {
  text: string;
  /** The detector that must fire, or undefined for a message that must produce no secret/PII finding. */
  label: string | undefined;
}

function corpus(): Labeled[] {
  const r = rng(4242);
  const out: Labeled[] = [];
  for (const id of detectors) {
    for (let i = 0; i < POSITIVES_PER_DETECTOR; i++) out.push({ text: leak(id, r), label: id });
    for (const text of nearMisses[id] ?? []) out.push({ text, label: undefined });
  }
  for (let i = 0; i < ORDINARY_MESSAGES; i++) out.push({ text: ordinaryChat(r), label: undefined });
  return out;
}

describe('built-in detectors', () => {
  it('number at least 150 secret detectors and cover cards, SSNs, ITINs, IBANs, NINOs, SINs and Aadhaar', () => {
    const secrets = rules.rules.filter((r) => r.spec.enabled && r.spec.category === 'secret');
    expect(secrets.length).toBeGreaterThanOrEqual(150);
    expect(detectors).toEqual(
      expect.arrayContaining(['credit-card', 'us-ssn', 'us-itin', 'iban', 'uk-nino', 'canada-sin', 'aadhaar', 'private-key', 'jwt', 'password-assignment', 'connection-string-password', 'generic-api-secret']),
    );
    // Every detector has a generator, so every detector is measured.
    expect(detectors.filter((d) => !secretValues[d])).toEqual([]);
  });

  it('find every planted secret and leave look-alikes alone (precision and recall per detector)', () => {
    const stats = new Map(detectors.map((d) => [d, { tp: 0, fn: 0, fp: 0 }]));
    const falsePositives: string[] = [];
    for (const { text, label } of corpus()) {
      const fired = new Set(evaluate(event(text), rules).filter((f) => f.category === 'secret' || f.category === 'pii').map((f) => f.ruleId));
      if (label) {
        if (fired.has(label)) stats.get(label)!.tp += 1;
        else stats.get(label)!.fn += 1;
      }
      for (const id of fired) {
        if (id === label) continue;
        stats.get(id)!.fp += 1;
        if (falsePositives.length < 10) falsePositives.push(`${id} fired on ${JSON.stringify(text).slice(0, 100)}`);
      }
    }
    const rows = [...stats].map(([id, s]) => {
      const precision = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
      const recall = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
      return { id, ...s, precision, recall };
    });
    const total = rows.reduce((a, r) => ({ tp: a.tp + r.tp, fn: a.fn + r.fn, fp: a.fp + r.fp }), { tp: 0, fn: 0, fp: 0 });
    const table = [
      `${'detector'.padEnd(32)} ${'TP'.padStart(4)} ${'FN'.padStart(4)} ${'FP'.padStart(4)} precision recall`,
      ...rows.map((r) => `${r.id.padEnd(32)} ${String(r.tp).padStart(4)} ${String(r.fn).padStart(4)} ${String(r.fp).padStart(4)} ${r.precision.toFixed(3).padStart(9)} ${r.recall.toFixed(3).padStart(6)}`),
      `${'all'.padEnd(32)} ${String(total.tp).padStart(4)} ${String(total.fn).padStart(4)} ${String(total.fp).padStart(4)} ${(total.tp / (total.tp + total.fp)).toFixed(3).padStart(9)} ${(total.tp / (total.tp + total.fn)).toFixed(3).padStart(6)}`,
    ];
    process.stdout.write(`\nprecision and recall per detector (${detectors.length} detectors, ${ORDINARY_MESSAGES} ordinary messages):\n${table.join('\n')}\n`);
    if (falsePositives.length) process.stdout.write(`first false positives:\n  ${falsePositives.join('\n  ')}\n`);

    for (const r of rows) {
      expect.soft(r.recall, `${r.id} recall`).toBeGreaterThanOrEqual(0.95);
      expect.soft(r.precision, `${r.id} precision`).toBeGreaterThanOrEqual(0.95);
    }
    expect(total.fp).toBeLessThanOrEqual(Math.ceil(total.tp * 0.01));
  });

  it('leave alone placeholders, masks and published examples (the near misses)', () => {
    const hits: string[] = [];
    for (const [id, texts] of Object.entries(nearMisses)) {
      for (const text of texts) {
        const fired = evaluate(event(text), rules).filter((f) => f.category === 'secret' || f.category === 'pii');
        if (fired.length) hits.push(`${id}: ${JSON.stringify(text)} → ${fired.map((f) => f.ruleId).join(', ')}`);
      }
    }
    expect(hits).toEqual([]);
  });

  it('never put the secret itself into a finding', () => {
    const r = rng(7);
    let checked = 0;
    for (const id of detectors) {
      const text = leak(id, r);
      for (const f of evaluate(event(text), rules)) {
        const secret = text.slice(f.start, f.end);
        const hidden = secret.length >= 12 ? secret.slice(3, -3) : secret.slice(1);
        expect(JSON.stringify(f)).not.toContain(hidden);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(detectors.length);
  });
});
