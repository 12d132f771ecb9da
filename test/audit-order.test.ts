/** The audit trail's order: by seq within a chain of runs, chains oldest first, attempts placed by time. */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../contract';
import { inTrailOrder } from '../src/incidents/audit-trail';

const rec = (seq: number | undefined, at: string, chain?: string, step = 's'): AuditRecord => ({
  incidentId: 'offender/slack/T/U',
  ...(seq !== undefined ? { seq } : {}),
  ...(chain ? { chain } : {}),
  at: `2026-11-22T10:00:${at}Z`,
  kind: seq === undefined ? 'attempt' : 'decision',
  step,
  outcome: 'x',
});

describe('inTrailOrder', () => {
  it('orders by seq even when appends landed out of order, and places attempts by time', () => {
    const out = inTrailOrder([rec(2, '02'), rec(undefined, '01', undefined, 'attempt'), rec(1, '00'), rec(3, '05')]);
    expect(out.map((r) => r.seq ?? 'attempt')).toEqual([1, 'attempt', 2, 3]);
  });

  it('keeps a later chain of the same workflow id after the earlier one', () => {
    const out = inTrailOrder([rec(1, '30', 'run-b'), rec(2, '10', 'run-a'), rec(1, '05', 'run-a'), rec(2, '31', 'run-b')]);
    expect(out.map((r) => `${r.chain}#${r.seq}`)).toEqual(['run-a#1', 'run-a#2', 'run-b#1', 'run-b#2']);
  });

  it('lists a record appended twice once, and keeps the same seq of another chain', () => {
    const out = inTrailOrder([rec(1, '00', 'run-a'), rec(2, '01', 'run-a'), rec(1, '00', 'run-a'), rec(1, '40', 'run-b'), rec(2, '01', 'run-a')]);
    expect(out.map((r) => `${r.chain}#${r.seq}`)).toEqual(['run-a#1', 'run-a#2', 'run-b#1']);
  });
});
