/** The rule file format (YAML), validated at load. */
import { z } from 'zod';

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit');

export const ruleSchema = z
  .object({
    id: ruleId,
    description: z.string().min(1),
    category: z.enum(['secret', 'pii', 'policy', 'behavior']),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    /** What matches: any of these words or phrases, case-insensitively, on word boundaries. */
    match: z.object({ keywords: z.array(z.string().min(1)).min(1) }).strict(),
    actions: z.array(z.enum(['delete', 'notify', 'revoke_kms', 'escalate', 'none'])).min(1),
    /** The message to the user; `{user}` becomes the author's id, `{rule}` the rule id. */
    message: z.string().min(1),
    /** Inline examples: `match` must produce a finding, `no_match` must not. */
    tests: z.object({ match: z.array(z.string()).default([]), no_match: z.array(z.string()).default([]) }).strict().optional(),
  })
  .strict();

export const ruleFileSchema = z.object({ rules: z.array(ruleSchema).min(1) }).strict();

export type RuleSpec = z.infer<typeof ruleSchema>;
