/**
 * The compiled stateful rule: one model for both front ends (YAML fields and SQL). The detector
 * uses its step conditions; the evaluator uses its key, window or sequence, and bounds.
 */
import RE2 from 're2';
import { SqlRuleError, type SqlContext } from '../engine/sql';
import type { Action, Category, ChannelKind, ChatEvent, Severity } from '../engine/types';
import { stepRef, type KeyKind } from './fact';
import { durationMs, type StatefulSpec, type StepSpec } from './schema';
import { compileThresholdSql } from './sql';

/** A stateful rule that cannot be compiled; `field` is the path in the rule. */
export class StatefulCompileError extends Error {
  override name = 'StatefulCompileError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a step condition looks at: the event, its files, its findings, and which channels have KMS keys. */
export interface StepInput {
  event: ChatEvent;
  files: readonly EventFile[];
  findings: readonly { ruleId: string; category: Category }[];
  kmsChannels: ReadonlySet<string>;
}

export interface EventFile {
  id: string;
  name?: string;
  title?: string;
}

export interface CompiledStep {
  /** `${ruleId}#${index}`, -1 for until. */
  ref: string;
  test(input: StepInput): boolean;
}

export type DistinctField = 'channel' | 'user' | 'file' | 'event_type' | 'team';

export interface StatefulRule {
  spec: StatefulSpec;
  file: string;
  id: string;
  kind: 'threshold' | 'sequence';
  enabled: boolean;
  by: KeyKind;
  /** A sequence's steps in order; a threshold's one counted condition. */
  steps: CompiledStep[];
  until?: CompiledStep;
  /** Sequence: first to last step's event time at most this. */
  maxspanMs: number;
  /** Threshold: window size and slide (equal for a tumbling window). */
  windowMs: number;
  hopMs: number;
  count: number;
  distinct?: DistinctField;
  suppressMs: number;
  /** The step whose channel's KMS key revoke_kms targets. */
  keyChannelStep: number;
  /** The incident a match opens. */
  incident: { description: string; category: Category; severity: Severity; actions: Action[]; message: string; approvalRequired: boolean };
}

/** The loaded stateful rules: all of them (inline tests run every one) and the enabled ones. */
export interface StatefulSet {
  rules: StatefulRule[];
  active: StatefulRule[];
  /**
   * The longest window or maxspan plus suppress interval among the enabled rules: how far back a
   * correlator replays (plus lateness) to rebuild every state that can still fire or suppress.
   */
  spanMs: number;
}

export function statefulSet(rules: StatefulRule[]): StatefulSet {
  const active = rules.filter((r) => r.enabled);
  return { rules, active, spanMs: Math.max(0, ...active.map((r) => (r.kind === 'sequence' ? r.maxspanMs : r.windowMs) + r.suppressMs)) };
}

export const emptyStatefulSet: StatefulSet = { rules: [], active: [], spanMs: 0 };

const asSet = <T>(v: T[] | undefined) => (v ? new Set(v) : undefined);

function anyKind(event: ChatEvent, kinds: ReadonlySet<ChannelKind>): boolean {
  const own = event.channelKinds;
  if (!own) return false;
  for (let k = 0; k < own.length; k++) if (kinds.has(own[k]!)) return true;
  return false;
}

function anyFinding(i: StepInput, test: (f: { ruleId: string; category: Category }) => boolean): boolean {
  const fs = i.findings;
  for (let k = 0; k < fs.length; k++) if (test(fs[k]!)) return true;
  return false;
}

/** Compiles one step condition; cheap tests first, so that clean chat is turned down in a Set lookup or two. */
export function compileStep(s: StepSpec, ref: string, field: string, sqlWhere?: (c: SqlContext) => boolean): CompiledStep {
  const eventTypes = asSet(s.event_types);
  const kinds = asSet(s.channel_kinds as ChannelKind[] | undefined);
  const notKinds = asSet(s.exclude_channel_kinds as ChannelKind[] | undefined);
  const users = asSet(s.users);
  const channels = asSet(s.channels);
  const rules = asSet(s.rules);
  const categories = asSet(s.categories as Category[] | undefined);
  let fileName: RE2 | undefined;
  if (s.file_name !== undefined) {
    try {
      fileName = new RE2(s.file_name, s.file_name_flags ?? 'i');
    } catch (err) {
      throw new StatefulCompileError(`${field}.file_name`, `RE2 cannot compile ${JSON.stringify(s.file_name)}: ${(err as Error).message}`);
    }
  }
  // Cheapest first: Set lookups on the event's ids; then the findings (none on clean chat); then the
  // channel kinds; the files last (read from the raw event only when asked). Loops, not closures:
  // this runs for every event a detector decides.
  const checks: ((i: StepInput) => boolean)[] = [];
  if (eventTypes) checks.push((i) => eventTypes.has(i.event.eventType));
  if (users) checks.push((i) => users.has(i.event.user));
  if (channels) checks.push((i) => channels.has(i.event.channel));
  if (s.channel_has_kms_key !== undefined) checks.push((i) => i.kmsChannels.has(i.event.channel) === s.channel_has_kms_key);
  if (rules) checks.push((i) => anyFinding(i, (f) => rules.has(f.ruleId)));
  if (categories) checks.push((i) => anyFinding(i, (f) => categories.has(f.category)));
  if (kinds) checks.push((i) => anyKind(i.event, kinds));
  if (notKinds) checks.push((i) => !anyKind(i.event, notKinds));
  if (s.has_file !== undefined) checks.push((i) => i.files.length > 0 === s.has_file);
  if (fileName) {
    const re = fileName;
    checks.push((i) => i.files.some((f) => (f.name !== undefined && re.test(f.name)) || (f.title !== undefined && re.test(f.title))));
  }
  if (sqlWhere) checks.push((i) => sqlWhere({ event: i.event, text: i.event.text }));
  if (checks.length === 0) throw new StatefulCompileError(field, 'an empty condition matches every event: give at least one field');
  return {
    ref,
    test: (i) => {
      for (const c of checks) if (!c(i)) return false;
      return true;
    },
  };
}

const defaultMessage = '<@{user}>, Sentinel noticed a pattern across your recent messages ({rule}) and told the security team.';

/** Compiles a validated stateful rule spec from `file`. */
export function compileStateful(spec: StatefulSpec, file: string): StatefulRule {
  const base = {
    spec,
    file,
    id: spec.id,
    kind: spec.kind,
    enabled: spec.enabled,
    suppressMs: spec.suppress ? durationMs(spec.suppress) : 0,
    incident: {
      description: spec.description,
      category: spec.category,
      severity: spec.severity,
      actions: spec.actions,
      message: spec.message ?? defaultMessage,
      approvalRequired: spec.approval === 'required',
    },
  };
  if (spec.kind === 'sequence') {
    const keyChannelStep = spec.key_channel_step ?? 0;
    if (keyChannelStep >= spec.steps.length) throw new StatefulCompileError('key_channel_step', `there are ${spec.steps.length} steps (0 to ${spec.steps.length - 1})`);
    return {
      ...base,
      by: spec.by as KeyKind,
      steps: spec.steps.map((s, i) => compileStep(s, stepRef(spec.id, i), `steps.${i}`)),
      ...(spec.until ? { until: compileStep(spec.until, stepRef(spec.id, -1), 'until') } : {}),
      maxspanMs: durationMs(spec.maxspan),
      windowMs: 0,
      hopMs: 0,
      count: spec.steps.length,
      keyChannelStep,
    };
  }
  if (spec.sql !== undefined) {
    let sql;
    try {
      sql = compileThresholdSql(spec.sql, `rule ${spec.id}`);
    } catch (err) {
      if (err instanceof SqlRuleError) throw new StatefulCompileError('sql', err.message);
      throw err;
    }
    return {
      ...base,
      by: sql.by,
      steps: [compileStep({}, stepRef(spec.id, 0), 'sql', sql.where ?? (() => true))],
      maxspanMs: 0,
      windowMs: sql.windowMs,
      hopMs: sql.hopMs,
      count: sql.count,
      ...(sql.distinct ? { distinct: sql.distinct } : {}),
      keyChannelStep: 0,
    };
  }
  const windowMs = durationMs(spec.window!);
  const hopMs = spec.hop ? durationMs(spec.hop) : windowMs;
  if (hopMs > windowMs || hopMs === 0) throw new StatefulCompileError('hop', `the hop must be more than 0 and at most the window (${spec.window})`);
  return {
    ...base,
    by: spec.by as KeyKind,
    steps: [compileStep(spec.where ?? {}, stepRef(spec.id, 0), 'where', spec.where ? undefined : () => true)],
    maxspanMs: 0,
    windowMs,
    hopMs,
    count: spec.count!,
    ...(spec.distinct ? { distinct: spec.distinct } : {}),
    keyChannelStep: 0,
  };
}
