/**
 * The shipped pack as a whole: how many detectors, each citing where its format comes from, each
 * with its own examples, each behind the prefilter; and the families the issue asks for covered.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/engine/load';
import { projectRoot } from '../../src/paths';

const pack = loadRules(join(projectRoot, 'rules'));
// The tutorial's SQL rules are kept as the tutorial wrote them; every detector of our own is held to this.
const builtIn = pack.rules.filter((r) => (r.spec.category === 'secret' || r.spec.category === 'pii') && r.spec.match.sql === undefined);
const credentials = pack.active.filter((r) => r.spec.category === 'secret');

describe('the shipped pack', () => {
  it('loads without problems', () => {
    expect(pack.problems).toEqual([]);
  });

  it('holds at least 150 enabled credential detectors', () => {
    process.stdout.write(`\npack: ${pack.rules.length} rules, ${pack.active.length} enabled, ${credentials.length} enabled credential detectors, ${pack.active.filter((r) => r.spec.category === 'pii').length} enabled PII detectors\n`);
    expect(credentials.length).toBeGreaterThanOrEqual(150);
  });

  it('cites the documentation of every detector format and carries examples both ways', () => {
    const missing = builtIn.flatMap((r) => {
      const t = r.spec.tests;
      const wants = [
        ...(r.spec.references?.length ? [] : ['references']),
        ...((t?.match.length ?? 0) >= 2 ? [] : ['two match examples']),
        ...((t?.no_match.length ?? 0) >= 1 ? [] : ['a no_match example']),
      ];
      return wants.length ? [`${r.spec.id} (${r.file}): ${wants.join(', ')}`] : [];
    });
    expect(missing).toEqual([]);
  });

  it('puts every enabled detector behind the prefilter (anchors, a digit run or a shape)', () => {
    const ungated = pack.active.filter((r) => r.gate.anchors.length === 0 && r.gate.minDigitRun === 0 && !r.gate.shape).map((r) => r.spec.id);
    expect(ungated).toEqual([]);
  });
});
