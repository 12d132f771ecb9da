/**
 * Values that look like secrets but are not: documentation examples, templates, masks, references
 * to where the secret really lives (variables, code), hashes of secrets, and obvious fakes. Every
 * secret and PII candidate passes through here before it becomes a finding.
 */

/** Published examples (vendors' docs, RFCs, payment providers' test cards) that appear in real chat all the time. */
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
  // RFC 7617 section 2: Basic credentials of Aladdin:open sesame.
  'QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
  // RFC 6750 section 2.1: the example bearer token.
  'mF_9.B5f-4.1JqM',
  // RFC 7519 section 3.1 and jwt.io's default token.
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  // kubectl config set-credentials --help: the basic-auth example password.
  'uXFGweU9l35qcif',
  // MongoDB connection string docs: the example password (percent-encoded and not).
  'D1fficultP%40ssw0rd',
  'D1fficultP@ssw0rd',
  // containers-auth.json(5): the example registry auth strings.
  'erfi7sYi89234xJUqaqxgmzcnQ2rRFWM5aJX0EC=',
  'juQAqGmz5eR1ipzx8Evn6KGdw8fEa1w5MWczmgY=',
]);

/** Masks: apply to every candidate. */
const maskPatterns: RegExp[] = [/x{4,}/i, /\*{3,}/, /•{3,}/];

/**
 * Runs of one character (aaaaaa, 000000) mark a made-up value. Encoded key material (DER,
 * OpenSSH's and PuTTY's length-prefixed blobs) holds runs of A for its zero bytes, so a long
 * value is a placeholder only when the run is long too.
 */
const shortRun = /(\S)\1{5,}/;
const longRun = /([^\s\\])\1{15,}/;
const LONG_VALUE = 100;

/** An identifier in code: snake_case, camelCase, PascalCase or CONSTANT_CASE. */
const IDENT = '(?:[A-Z][A-Z0-9_]+|[A-Za-z_][a-z0-9_]*(?:[A-Z][a-z0-9_]+)*)';

/** Templates, references and hashes that mark a placeholder secret; numbers (PII) are not judged by these. */
const placeholderPatterns: RegExp[] = [
  // Templates and variables: ${VAR}, {{ secret }}, $VAR, %VAR%, %s, $(command), #{ruby}, <your-token>, [PASSWORD].
  /\$\{[^}]*\}/,
  /\{\{[^}]*\}\}/,
  /^\$(?:[A-Z_][A-Z0-9_]*|[a-z_][a-z0-9_]*)$/,
  /^\$env:[A-Za-z_][A-Za-z0-9_]*$/i,
  /^%[A-Za-z_][A-Za-z0-9_]*%$/,
  /^%\(?[a-z_]*\)?s$/,
  /^\$\(/,
  /#\{[^}]*\}?/,
  /<[^<>]{1,40}>/,
  /^\[[A-Za-z _-]{1,40}\]$/,
  /^@[A-Za-z_]+$/,
  // References to where the secret lives: environment lookups, CI secrets, config objects, function calls.
  /^(?:process\.env|import\.meta\.env|os\.environ|os\.getenv|System\.getenv|Deno\.env|ENV\[|ENV\.fetch|env\(|getenv\(|secrets\.|vars\.|inputs\.|var\.|local\.|settings\.|config\.|self\.|this\.)/,
  // Code: a call or an index (bcrypt.hashpw(pw, input(, config[, ENC(…), Column(String(64))), not a
  // password or token that holds a bracket (flrt_i(4U6gb[u…).
  new RegExp(`^(?:${IDENT}\\.)+${IDENT}[[(]|^[a-z_]{3,}[[(]$|^${IDENT}(?:\\.${IDENT})*(?:\\(.*\\)|\\[.*\\])$`),
  /^!(?:vault|Ref|Sub|GetAtt|ImportValue|Secret|env|include)\b/,
  /^\{cipher\}/,
  // Hashes of secrets, not the secrets: crypt(3) and PHC strings, LDAP schemes, Django, PostgreSQL, digests.
  /^\$(?:2[abxy]?|1|5|6|y|gy|7|argon2(?:id|i|d)|scrypt|pbkdf2(?:-sha\d+)?|sha\d*|md5)\$/i,
  /^\{(?:S?SHA\d*|S?MD5|CRYPT|BCRYPT|PBKDF2[^}]*|ARGON2[^}]*|SCRYPT|NOOP)\}/i,
  /^(?:pbkdf2_sha\d+|bcrypt(?:_sha256)?|argon2|scrypt|sha1|md5)\$/,
  /^SCRAM-SHA-\d+\$/,
  /^md5[0-9a-f]{32}$/,
  /^sha(?:1|224|256|384|512):[0-9a-f]{40,128}$/i,
  // Truncated values: "ghp_abc...", "eyJ…".
  /\.{3,}|…/,
  /EXAMPLE/,
];

/**
 * Any of `words` as a word: at the start or after a separator, written in lower case, Capitalized
 * or in CAPITALS, and not running on into more letters of the same case ("fake-key", "FAKE_KEY",
 * "fakeToken", "Todo:" yes; "2FzamQ…tODo…" in a random token no).
 */
function wordsRegex(words: string[]): RegExp {
  const cases = words.flatMap((w) => {
    const upper = w.replace(/[a-z]+(?![^[]*\])/g, (m) => m.toUpperCase());
    return [`${w}(?![a-z])`, `${w[0]!.toUpperCase()}${w.slice(1)}(?![a-z])`, `${upper}(?![A-Z])`];
  });
  return new RegExp(`(?:^|[^A-Za-z0-9])(?:${cases.join('|')})`);
}

/**
 * Words, sequences and fakes that mark a placeholder secret. Judged only in values of ordinary
 * length: a key body of a thousand random base64 characters holds "fake" or "todo" by chance.
 */
const wordPatterns: RegExp[] = [
  /\b(?:your|my|some|the)[-_ ]?(?:api[-_ ]?)?(?:key|token|secret|password|pass|pwd)(?:[-_ ]?here)?\b/i,
  /^(?:your|my|insert|enter|replace|put|paste|add)[-_ ]?(?:[a-z]+[-_ ]?){0,4}?(?:key|token|secret|password|passwd|pass|pwd|pw|credentials?|here|value)s?(?:[-_ ]?here)?$/i,
  /(?:^|[^a-z])(?:your|my)[-_](?:[a-z0-9]+[-_]){0,5}?(?:key|token|secret|password|passwd|pass|pwd|pw|credentials?|here)s?(?:[^a-z]|$)/i,
  /[a-z][-_ ]here$/i,
  wordsRegex(['example', 'sample', 'dummy', 'placeholder', 'changeme', 'change[-_]me', 'changeit', 'replace[-_]?me', 'fill[-_]?me', 'redacted', 'removed', 'censored', 'masked', 'omitted', 'fake', 'test[-_]?(?:key|token|secret)', 'notarealkey', 'not[-_]?a[-_]?real', 'insert[-_]?here', 'todo']),
  // Sequences and keyboard walks: no generator produces them.
  /0123456789|1234567890|abcdefghij|ABCDEFGHIJ|qwertyuiop|asdfghjkl|zxcvbnm/i,
  // Obvious fakes and defaults, with or without a number or mark after them: password123, admin!, hunter2.
  /^(?:password|passwd|passw0rd|p@ssw0rd|p@ssword|pa\$\$word|pass|pwd|secret|s3cr3t|secret(?:key|token)|mysecret|supersecret|topsecret|mypassword|yourpassword|newpassword|changeme|changeit|letmein|admin|administrator|root|toor|test|tester|testing|demo|guest|user|username|qwerty|abc|abcd|abcdef|foo|bar|baz|foobar|foobarbaz|hunter|correcthorsebatterystaple|none|null|nil|undefined|empty|token|apikey|api_key|postgres|mysql|mariadb|mongo|mongodb|redis|rabbitmq|tiger|scott|oracle|elastic|kibana|minioadmin|sa)[\d!@#$%.*_-]{0,6}$/i,
];

/** Base64 of "user:password" whose password is a placeholder (Basic credentials, Docker's auth): QWxhZGRpbjpvcGVuIHNlc2FtZQ== and the like. */
function encodedPlaceholderCredentials(value: string): boolean {
  if (value.length < 8 || value.length > 400 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  // Only printable ASCII "user:password": anything else is not credentials in this form.
  if (!/^[\x20-\x7e]+$/.test(decoded)) return false;
  const colon = decoded.indexOf(':');
  // A user name before the colon (not JSON, not a URL): otherwise this is some other encoded text.
  if (colon < 0 || !/^[\w.@+\\-]{1,100}$/.test(decoded.slice(0, colon))) return false;
  const password = decoded.slice(colon + 1);
  return password.length < 3 || knownExamples.has(password) || [...maskPatterns, ...placeholderPatterns, ...wordPatterns].some((p) => p.test(password));
}

/**
 * Identifiers and words rather than random characters: "superSecretValue", "OPENAI_API_KEY",
 * "hashed_password_from_db", "change-this-to-a-long-random-string". Only letters and separators;
 * the parts are word-sized, and every part of four letters or more has the vowels of a word.
 * Random letters split at case changes give short parts without vowels.
 */
function wordLike(value: string): boolean {
  if (value.length < 8 || !/^[A-Za-z][A-Za-z_.-]*$/.test(value)) return false;
  const parts = value.split(/[_.-]+|(?<=[a-z])(?=[A-Z])/).filter(Boolean);
  // Capitals are a CONSTANT_NAME only with underscores between words: a single run of capitals is an
  // acronym or a base32 token, and TKN-PLMOKN or ABCDE-FGHIJ is a licence-key-like token.
  if (parts.some((p) => /^[A-Z]{2,}$/.test(p)) && !(parts.length >= 2 && /^[A-Z]+(?:_[A-Z]+)+$/.test(value))) return false;
  if (parts.length > 8 || value.replace(/[_.-]/g, '').length / parts.length < 3 || !parts.some((p) => p.length >= 4)) return false;
  // Words have vowels, and rarely six consonants in a row; random letters have both the other way round.
  if (/[b-df-hj-np-tv-xz]{6}/i.test(value.replace(/[_.-]/g, ' '))) return false;
  return parts.every((p) => {
    if (!/^(?:[A-Z]?[a-z]+|[A-Z]+)$/.test(p)) return false;
    const vowels = p.match(/[aeiouy]/gi)?.length ?? 0;
    return p.length < 4 || vowels / p.length >= 0.15;
  });
}

/**
 * True when `value` is a mask, a published example or (for secrets, `strict`) a template,
 * reference, hash, word or placeholder rather than a real value.
 */
export function isPlaceholder(value: string, strict = true): boolean {
  const compact = value.replace(/[\s-]/g, '');
  if (knownExamples.has(value) || knownExamples.has(compact)) return true;
  if (maskPatterns.some((p) => p.test(value))) return true;
  if (!strict) return false;
  const long = value.length > LONG_VALUE;
  if ((long ? longRun : shortRun).test(value)) return true;
  if (placeholderPatterns.some((p) => p.test(value))) return true;
  return !long && (wordPatterns.some((p) => p.test(value)) || wordLike(value) || encodedPlaceholderCredentials(value));
}
