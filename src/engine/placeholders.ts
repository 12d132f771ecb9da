/**
 * Values that look like secrets but are not: documentation examples, templates and masks. Every
 * secret and PII candidate passes through here before it becomes a finding.
 */

/** Published examples (AWS docs, payment providers' test cards) that appear in real chat all the time. */
const knownExamples = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  '4111111111111111',
  '4242424242424242',
  '4012888888881881',
  '5555555555554444',
  '5105105105105100',
  '378282246310005',
  '371449635398431',
  '6011111111111117',
  '3530111333300000',
  '078051120', // the Woolworth wallet SSN
  '219099999',
  '123456789',
]);

/** Masks: apply to every candidate. */
const maskPatterns: RegExp[] = [/x{4,}/i, /\*{3,}/, /•{3,}/];

/** Templates, words and runs that mark a placeholder secret; numbers (PII) are not judged by these. */
const placeholderPatterns: RegExp[] = [
  /(.)\1{5,}/, // aaaaaa, 000000
  /\$\{[^}]*\}/, // ${VAR}
  /\{\{[^}]*\}\}/, // {{ secret }}
  /^\$[A-Z_][A-Z0-9_]*$/, // $VAR
  /^%\(?[a-z_]*\)?s$/, // %s, %(password)s
  /<[^<>]{1,40}>/, // <your-token>, <password>
  /\b(?:your|my|some|the)[-_ ]?(?:api[-_ ]?)?(?:key|token|secret|password|pass|pwd)(?:[-_ ]?here)?\b/i,
  /(?:^|[^a-z])(?:example|sample|dummy|placeholder|changeme|change[-_]me|redacted|fake|test[-_]?(?:key|token|secret)|notarealkey|insert[-_]?here|todo)(?:[^a-z]|$)/i,
  /EXAMPLE/,
  /^(?:0123456789|1234567890|abcdef|qwerty|password|passw0rd|secret|letmein|admin|hunter2?)$/i,
];

/**
 * True when `value` is a mask, a published example or (for secrets, `strict`) a template or
 * placeholder word rather than a real value.
 */
export function isPlaceholder(value: string, strict = true): boolean {
  const compact = value.replace(/[\s-]/g, '');
  if (knownExamples.has(value) || knownExamples.has(compact)) return true;
  if (maskPatterns.some((p) => p.test(value))) return true;
  return strict && placeholderPatterns.some((p) => p.test(value));
}
