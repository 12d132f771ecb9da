/**
 * Stateful rules in rule files (README "Rules over time"): `kind: threshold` (count or count
 * distinct per key in a hop/tumble window) and `kind: sequence` (ordered steps per key within a
 * maxspan, optionally `until` a cancelling step). Validated at load, beside the per-event rules.
 */
import { z } from 'zod';
import { KEY_KINDS } from './fact';

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit');
const channelKind = z.enum(['public', 'private', 'im', 'mpim', 'external']);
const action = z.enum(['delete', 'notify', 'revoke_kms', 'escalate', 'none']);
/** 30s, 10m, 24h, 2d. */
export const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'a duration such as 30s, 10m, 24h or 2d');
const oneOrMany = <T extends z.ZodTypeAny>(t: T) => z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[]);

/**
 * A condition on one event, evaluated by the detector (which has the text, the findings and the
 * channel keys). Every field is optional; fields are AND-ed; a list means any of its values.
 */
export const stepSchema = z
  .object({
    /** message, message_changed, file_shared, file_public, file_change, file_comment_added, file_deleted, … */
    event_types: oneOrMany(z.string().min(1)).optional(),
    channel_kinds: oneOrMany(channelKind).optional(),
    /** Kinds the channel must not be (a Slack Connect channel is `public` or `private` and `external`). */
    exclude_channel_kinds: oneOrMany(channelKind).optional(),
    /** The event carries (true) or does not carry (false) a file. */
    has_file: z.boolean().optional(),
    /** Ids of per-event rules that matched the event (any of). */
    rules: oneOrMany(ruleId).optional(),
    /** Categories of the event's findings (any of). */
    categories: oneOrMany(z.enum(['secret', 'pii', 'policy', 'behavior'])).optional(),
    /** An RE2 regex one of the event's file names or titles must match. */
    file_name: z.string().min(1).optional(),
    /** RE2 flags for file_name; default i. */
    file_name_flags: z.string().regex(/^[ism]*$/, 'only i, s and m').optional(),
    /** The channel has a customer-managed KMS key (it is listed in SENTINEL_CHANNEL_KEYS). */
    channel_has_kms_key: z.boolean().optional(),
    users: oneOrMany(z.string().min(1)).optional(),
    channels: oneOrMany(z.string().min(1)).optional(),
  })
  .strict();

/** An inline test event: what the detector would see, with minutes (or any duration) since the sequence's start. */
export const testEventSchema = z
  .object({
    /** Event time after the sequence's start: 0s, 5m, 2h. */
    at: duration,
    /** Empty for an event that names none, as Slack's file_deleted (a file id only). */
    user: z.string().default('U0TEST001'),
    channel: z.string().default('C0TEST001'),
    team: z.string().min(1).default('T0TEST001'),
    event_type: z.string().min(1).default('message'),
    channel_kinds: z.array(channelKind).default([]),
    /** The event's text, run through the per-event rules for findings (use known test credentials). */
    text: z.string().default(''),
    files: z.array(z.object({ id: z.string().min(1), name: z.string().optional(), title: z.string().optional() }).strict()).default([]),
  })
  .strict();

export const sequenceTestSchema = z
  .object({
    name: z.string().min(1),
    /** Channels listed in SENTINEL_CHANNEL_KEYS for this test. */
    kms_channels: z.array(z.string().min(1)).default([]),
    /** Events in arrival order (their event times may be out of order: late events). */
    events: z.array(testEventSchema).min(1),
    /** How many matches the rule must fire. */
    matches: z.number().int().nonnegative(),
  })
  .strict();

const common = {
  id: ruleId,
  description: z.string().min(1),
  category: z.enum(['secret', 'pii', 'policy', 'behavior']),
  severity: z.enum(['low', 'medium', 'high', 'critical']),
  enabled: z.boolean().default(true),
  /** Existing actions; summary and report always run (unless none). Default [notify]. */
  actions: z.array(action).min(1).default(['notify']),
  approval: z.enum(['required', 'none']).default('none'),
  message: z.string().min(1).optional(),
  /** After firing for a key, no new incident for that key for this long (event time). */
  suppress: duration.optional(),
  tests: z.object({ sequences: z.array(sequenceTestSchema).default([]) }).strict().optional(),
  tags: z.array(z.string().min(1)).optional(),
  references: z.array(z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL')).min(1).optional(),
};

export const thresholdSchema = z
  .object({
    ...common,
    kind: z.literal('threshold'),
    /** The YAML form: by + window (+ hop) + count or distinct + where. */
    by: z.enum(KEY_KINDS as [string, ...string[]]).optional(),
    window: duration.optional(),
    /** The slide of a hop window; default the window (a tumbling window). */
    hop: duration.optional(),
    /** count(*) >= count, or count(DISTINCT distinct) >= count. */
    count: z.number().int().min(1).optional(),
    /** A fact field whose distinct values are counted: channel, user, file, event_type. */
    distinct: z.enum(['channel', 'user', 'file', 'event_type', 'team']).optional(),
    where: stepSchema.optional(),
    /** The SQL form (Proton style): SELECT <key>, count() AS n FROM hop(slack_events, 1m, 10m) WHERE … GROUP BY <key>, window_start HAVING n >= 3. */
    sql: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.sql !== undefined) {
      for (const k of ['by', 'window', 'hop', 'count', 'distinct', 'where'] as const) {
        if (r[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} comes from the SQL: give either sql or the YAML fields` });
      }
      return;
    }
    for (const k of ['by', 'window', 'count'] as const) if (r[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `a threshold rule needs ${k} (or sql)` });
  });

export const sequenceSchema = z
  .object({
    ...common,
    kind: z.literal('sequence'),
    by: z.enum(KEY_KINDS as [string, ...string[]]),
    /** The longest time from the first step's event to the last's (EQL's maxspan). */
    maxspan: duration,
    steps: z.array(stepSchema).min(2),
    /** A cancelling step: an event matching it after a partial sequence started drops that sequence. */
    until: stepSchema.optional(),
    /** The step whose channel's KMS key revoke_kms targets; default the first (0). */
    key_channel_step: z.number().int().nonnegative().optional(),
  })
  .strict();

export const statefulSchema = z.discriminatedUnion('kind', [thresholdSchema, sequenceSchema]);

export type StepSpec = z.infer<typeof stepSchema>;
export type ThresholdSpec = z.infer<typeof thresholdSchema>;
export type SequenceSpec = z.infer<typeof sequenceSchema>;
export type StatefulSpec = z.infer<typeof statefulSchema>;
export type SequenceTest = z.infer<typeof sequenceTestSchema>;

/** Whether a raw rule object is a stateful one (its `kind` says so). */
export const isStatefulRaw = (raw: unknown): boolean => {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  return kind === 'threshold' || kind === 'sequence';
};

/** Milliseconds of a duration (30s, 10m, 24h, 2d, 500ms). */
export function durationMs(v: string): number {
  const [, n, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(v)!;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(n) * scale;
}
