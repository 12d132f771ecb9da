/**
 * Runs stateful rules' inline tests: each sequence's events go through what the detector does (the
 * per-event rules for findings, the step conditions for a fact) and then the evaluator, in arrival
 * order; the matches fired must number what the test says.
 */
import { evaluate, type CompiledRules } from '../engine/engine';
import type { ChatEvent } from '../engine/types';
import { Evaluator } from './evaluator';
import { statefulSet, type StatefulRule } from './model';
import { durationMs, type SequenceTest } from './schema';
import { factOf } from './steps';

export interface SequenceFailure {
  ruleId: string;
  file: string;
  test: string;
  expected: number;
  got: number;
}

export interface SequenceReport {
  rules: number;
  sequences: number;
  failures: SequenceFailure[];
}

/** Event times of tests start here (2023-11-14T22:13:20Z); `at` is added. */
const BASE_SECONDS = 1_700_000_000;

/** The events of a test as the detector would see them. */
export function testEvents(t: SequenceTest): ChatEvent[] {
  return t.events.map((e, i) => {
    const ms = durationMs(e.at);
    // Microseconds carry the event's index: two events at one `at` are still two messages.
    const ts = `${BASE_SECONDS + Math.floor(ms / 1000)}.${String((ms % 1000) * 1000 + i).padStart(6, '0')}`;
    const names = e.files.flatMap((f) => [f.name, f.title].filter((v): v is string => v !== undefined));
    return {
      source: 'test',
      team: e.team,
      channel: e.channel,
      user: e.user,
      ts,
      eventType: e.event_type,
      text: [e.text, ...names].filter(Boolean).join('\n'),
      channelKinds: e.channel_kinds,
      ...(e.files.length ? { files: e.files.map((f) => f.id) } : {}),
      raw: { files: e.files },
    };
  });
}

/** How many matches one rule fires for one test, with `perEvent` giving the events' findings. */
export function runSequence(rule: StatefulRule, t: SequenceTest, perEvent: CompiledRules): number {
  const set = statefulSet([{ ...rule, enabled: true }]);
  const evaluator = new Evaluator(set);
  const kmsChannels = new Set(t.kms_channels);
  let matches = 0;
  for (const event of testEvents(t)) {
    const findings = event.text ? evaluate(event, perEvent).map((f) => ({ ruleId: f.ruleId, category: f.category })) : [];
    const fact = factOf(event, findings, { stateful: set, kmsChannels });
    if (fact) matches += evaluator.offer(fact).length;
  }
  return matches;
}

/** Every stateful rule, disabled ones included, against its own sequences. */
export function runSequenceTests(rules: StatefulRule[], perEvent: CompiledRules): SequenceReport {
  const report: SequenceReport = { rules: rules.length, sequences: 0, failures: [] };
  for (const rule of rules) {
    for (const t of rule.spec.tests?.sequences ?? []) {
      report.sequences += 1;
      const got = runSequence(rule, t, perEvent);
      if (got !== t.matches) report.failures.push({ ruleId: rule.id, file: rule.file, test: t.name, expected: t.matches, got });
    }
  }
  return report;
}
