/** The rule file format (YAML), validated at load. README "Rules" documents every field. */
import { z } from 'zod';
import { validators } from './validators';

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit');
const action = z.enum(['delete', 'redact', 'tombstone', 'quarantine', 'notify', 'revoke_kms', 'revoke_credential', 'escalate', 'none']);
const validatorName = z.enum(Object.keys(validators) as [keyof typeof validators, ...(keyof typeof validators)[]]);

export const matchSchema = z
  .object({
    /** Any of these words or phrases, case-insensitively, on word boundaries. */
    keywords: z.array(z.string().min(1)).min(1).optional(),
    /** An RE2 regular expression. */
    regex: z.string().min(1).optional(),
    /** RE2 flags for `regex`: i (ignore case), s (dot matches newline), m (multi-line). */
    flags: z.string().regex(/^[ism]*$/, 'only i, s and m').optional(),
    /** A tutorial-style streaming-SQL rule: SELECT … FROM slack_events WHERE … */
    sql: z.string().min(1).optional(),
    /** Literals (any case) one of which must occur for `regex` to be tried; the engine's prefilter. */
    anchors: z.array(z.string().min(1)).optional(),
    /**
     * The text must hold a run of at least this many digits (digits may be separated by single
     * spaces or dashes) for `regex` to be tried; the prefilter's gate for number detectors.
     */
    min_digit_run: z.number().int().nonnegative().optional(),
    /**
     * A shape the text must contain for `regex` to be tried: A an upper-case letter, a a
     * lower-case letter, 9 a digit, any other character itself. E.g. AA99, 999-99-9999. A list:
     * the text must contain one of them.
     */
    shape: z
      .union([z.string().regex(/^[^\t\n]{2,31}$/, '2 to 31 characters on one line'), z.array(z.string().regex(/^[^\t\n]{2,31}$/, '2 to 31 characters on one line')).min(1)])
      .optional(),
    /**
     * A validator (e.g. payment-card) that the leading digits of some digit run in the text must
     * pass, at some length from min_digit_run to 19, for `regex` to be tried: a cheap JavaScript
     * gate that spares checksummed-number rules an RE2 search on numbers that cannot pass.
     */
    digits_validate: validatorName.optional(),
    /** Literals that must all occur (case as written) for `regex` to be tried. */
    requires: z.array(z.string().min(1)).min(1).optional(),
    /** The capture group holding the value; default 1 when the regex has groups, else the whole match. */
    secret_group: z.number().int().nonnegative().optional(),
    /** Minimum Shannon entropy (bits per character) of the value. */
    entropy: z.number().nonnegative().max(8).optional(),
    /** Checks the value must pass. */
    validate: z.array(validatorName).optional(),
    /** A broad detector: its finding is dropped where a specific detector matched the same text. */
    fallback: z.boolean().optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const kinds = (['keywords', 'regex', 'sql'] as const).filter((k) => m[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `exactly one of keywords, regex or sql is required${kinds.length ? ` (found ${kinds.join(' and ')})` : ''}` });
    }
    if (m.digits_validate !== undefined && !m.min_digit_run) ctx.addIssue({ code: 'custom', path: ['digits_validate'], message: 'digits_validate needs min_digit_run: the shortest number it checks' });
    if (m.regex === undefined) {
      for (const k of ['flags', 'anchors', 'min_digit_run', 'shape', 'digits_validate', 'requires', 'secret_group', 'entropy', 'validate', 'fallback'] as const) {
        if (m[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} applies to regex rules only` });
      }
    }
  });

export const scopeSchema = z
  .object({
    /** Event types the rule applies to; default message and message_changed and file events. */
    event_types: z.array(z.string().min(1)).min(1).optional(),
    /** Channel ids; default all. */
    channels: z.array(z.string().min(1)).min(1).optional(),
    /** Channel kinds; default all. */
    channel_kinds: z.array(z.enum(['public', 'private', 'im', 'mpim', 'external'])).min(1).optional(),
    /** Only these users. */
    users: z.array(z.string().min(1)).min(1).optional(),
    /** Never these users (service accounts, the security team's own bot). */
    exclude_users: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/**
 * A list of known-good matches, as gitleaks writes them: the finding is dropped when the
 * allowlist holds. With condition `or` (the default) any one criterion is enough; with `and`
 * every criterion given must hold.
 */
export const allowlistSchema = z
  .object({
    description: z.string().optional(),
    condition: z.enum(['or', 'and']).default('or'),
    /** RE2 patterns tried against `regex_target`. */
    regexes: z.array(z.string().min(1)).min(1).optional(),
    /** What `regexes` are tried against: the secret (default), the whole match, or the line it is on. */
    regex_target: z.enum(['secret', 'match', 'line']).default('secret'),
    /** Words that, found anywhere in the secret (any case), mark it as not a secret. */
    stopwords: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()
  .refine((a) => a.regexes !== undefined || a.stopwords !== undefined, { message: 'an allowlist needs regexes or stopwords' });

export const ruleSchema = z
  .object({
    id: ruleId,
    description: z.string().min(1),
    category: z.enum(['secret', 'pii', 'policy', 'behavior']),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    /** Off rules load and run their inline tests but never match live events. Default true. */
    enabled: z.boolean().default(true),
    match: matchSchema,
    scope: scopeSchema.optional(),
    /** For SQL rules tp_action may give the actions instead. */
    actions: z.array(action).min(1).optional(),
    /** required: revoke_kms waits for an operator's approveRevocation (or the configured timeout default). Default none. */
    approval: z.enum(['required', 'none']).default('none'),
    /** The message to the user; {user}, {channel}, {rule} are filled in. For SQL rules tp_message may give it instead. */
    message: z.string().min(1).optional(),
    /** Values (the matched secret) that are known and fine: RE2 patterns. */
    allow: z.array(z.string().min(1)).optional(),
    /** Known-good matches described as gitleaks allowlists (regexes on the secret, match or line; stopwords). */
    allowlists: z.array(allowlistSchema).min(1).optional(),
    /** Where the format comes from: the provider's documentation of its token format (URLs). */
    references: z.array(z.string().regex(/^https?:\/\/\S+$/, 'an http(s) URL')).min(1).optional(),
    /** Free labels (a provider, a family, a gitleaks tag); shown with findings, never matched on. */
    tags: z.array(z.string().min(1)).optional(),
    /** Inline examples: each `match` must produce a finding of this rule, no `no_match` may. */
    tests: z.object({ match: z.array(z.string()).default([]), no_match: z.array(z.string()).default([]) }).strict().optional(),
  })
  .strict();

export const ruleFileSchema = z.object({ rules: z.array(ruleSchema).min(1) }).strict();

export type RuleSpec = z.infer<typeof ruleSchema>;
