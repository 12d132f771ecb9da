/**
 * A labeled corpus generated from a seed: for each built-in detector, messages that leak a freshly
 * made value of its format, and near misses that only look like one (placeholders, masks,
 * published examples); plus ordinary chat full of look-alikes (UUIDs, SHAs, digests, timestamps,
 * phone numbers, Luhn-failing numbers). Nothing here is copied from another project.
 */

export type Rng = () => number;

/** Mulberry32: small, fast, reproducible. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B64 = ALNUM + '+/';
const URLSAFE = ALNUM + '_-';

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const chars = (r: Rng, set: string, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += set[Math.floor(r() * set.length)];
  return s;
};
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const digits = (r: Rng, n: number) => chars(r, DIGITS, n);
/** Random alphanumerics that include both a letter and a digit (as real tokens of this length do). */
const token = (r: Rng, set: string, n: number) => {
  for (;;) {
    const s = chars(r, set, n);
    if (/[A-Za-z]/.test(s) && /\d/.test(s)) return s;
  }
};

function luhnComplete(prefix: string, length: number, r: Rng): string {
  let body = prefix + digits(r, length - prefix.length - 1);
  for (let check = 0; check < 10; check++) {
    const candidate = body + check;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let n = candidate.charCodeAt(candidate.length - 1 - i) - 48;
      if (i % 2 === 1) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
    }
    if (sum % 10 === 0) return candidate;
  }
  body = '';
  return body;
}

function ibanFor(country: string, length: number, r: Rng): string {
  const bban = token(r, UPPER.slice(0, 6) + DIGITS + DIGITS, length - 4).toUpperCase();
  const numeric = (s: string) => [...s].map((c) => (c >= 'A' ? String(c.charCodeAt(0) - 55) : c)).join('');
  const rearranged = numeric(bban + country + '00');
  let rem = 0;
  for (const d of rearranged) rem = (rem * 10 + Number(d)) % 97;
  const check = String(98 - rem).padStart(2, '0');
  return country + check + bban;
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** One fresh value per detector, in the detector's real format. */
export const secretValues: Record<string, (r: Rng) => string> = {
  'aws-access-key-id': (r) => pick(r, ['AKIA', 'ASIA']) + token(r, UPPER + '234567', 16),
  'aws-secret-access-key': (r) => token(r, B64, 40),
  'github-pat': (r) => 'ghp_' + token(r, ALNUM, 36),
  'github-oauth-token': (r) => 'gho_' + token(r, ALNUM, 36),
  'github-user-token': (r) => 'ghu_' + token(r, ALNUM, 36),
  'github-server-token': (r) => 'ghs_' + token(r, ALNUM, 36),
  'github-refresh-token': (r) => 'ghr_' + token(r, ALNUM, 36),
  'github-fine-grained-pat': (r) => `github_pat_${token(r, ALNUM, 22)}_${token(r, ALNUM, 59)}`,
  'gitlab-pat': (r) => 'glpat-' + token(r, URLSAFE, 20),
  'gitlab-pipeline-trigger-token': (r) => 'glptt-' + token(r, HEX, 40),
  'gitlab-runner-token': (r) => 'glrt-' + token(r, URLSAFE, 20),
  'slack-bot-token': (r) => `xoxb-${digits(r, 12)}-${digits(r, 13)}-${token(r, ALNUM, 24)}`,
  'slack-user-token': (r) => `xoxp-${digits(r, 12)}-${digits(r, 12)}-${digits(r, 13)}-${token(r, HEX, 32)}`,
  'slack-app-token': (r) => `xapp-1-A${token(r, UPPER + DIGITS, 10)}-${digits(r, 13)}-${token(r, HEX, 64)}`,
  'slack-webhook-url': (r) => `https://hooks.slack.com/services/T${token(r, UPPER + DIGITS, 8)}/B${token(r, UPPER + DIGITS, 10)}/${token(r, ALNUM, 24)}`,
  'stripe-secret-key': (r) => 'sk_live_' + token(r, ALNUM, int(r, 24, 99)),
  'stripe-restricted-key': (r) => 'rk_live_' + token(r, ALNUM, int(r, 24, 99)),
  'google-api-key': (r) => 'AIza' + token(r, URLSAFE, 35),
  'google-oauth-client-secret': (r) => 'GOCSPX-' + token(r, URLSAFE, 28),
  'gcp-service-account-key': (r) => token(r, HEX, 40),
  'twilio-api-key': (r) => 'SK' + token(r, HEX, 32),
  'twilio-auth-token': (r) => token(r, HEX, 32),
  'sendgrid-api-key': (r) => `SG.${token(r, URLSAFE, 22)}.${token(r, URLSAFE, 43)}`,
  'npm-access-token': (r) => 'npm_' + token(r, ALNUM, 36),
  'pypi-upload-token': (r) => 'pypi-AgEIcHlwaS5vcmc' + token(r, URLSAFE, int(r, 60, 120)),
  'openai-api-key': (r) => (r() < 0.5 ? `sk-proj-${token(r, URLSAFE, int(r, 60, 120))}` : `sk-${token(r, ALNUM, 20)}T3BlbkFJ${token(r, ALNUM, 20)}`),
  'anthropic-api-key': (r) => `sk-ant-api03-${token(r, URLSAFE, 93)}AA`,
  'azure-storage-account-key': (r) => token(r, B64, 86) + '==',
  'azure-ad-client-secret': (r) => `${token(r, ALNUM, 3)}${int(r, 0, 9)}Q~${token(r, ALNUM + '_~.-', 34)}`,
  'heroku-api-key': (r) => `${token(r, HEX, 8)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${token(r, HEX, 12)}`,
  'heroku-api-key-v2': (r) => 'HRKU-AA' + token(r, URLSAFE, 58),
  'datadog-api-key': (r) => token(r, HEX, 32),
  'shopify-access-token': (r) => pick(r, ['shpat_', 'shpca_', 'shppa_']) + token(r, HEX, 32),
  'shopify-shared-secret': (r) => 'shpss_' + token(r, HEX, 32),
  'mailgun-api-key': (r) => 'key-' + token(r, HEX, 32),
  'mailchimp-api-key': (r) => `${token(r, HEX, 32)}-us${int(r, 1, 21)}`,
  'digitalocean-token': (r) => pick(r, ['dop_v1_', 'doo_v1_', 'dor_v1_']) + token(r, HEX, 64),
  'linear-api-key': (r) => 'lin_api_' + token(r, ALNUM, 40),
  'vault-token': (r) => 'hvs.' + token(r, URLSAFE, int(r, 90, 120)),
  'doppler-token': (r) => `dp.${pick(r, ['pt', 'st', 'sa', 'ct'])}.${token(r, ALNUM, 43)}`,
  'databricks-token': (r) => 'dapi' + token(r, HEX, 32),
  'atlassian-api-token': (r) => 'ATATT3' + token(r, URLSAFE, 186),
  'discord-bot-token': (r) => `${pick(r, ['M', 'N'])}${token(r, ALNUM, 25)}.${token(r, URLSAFE, 6)}.${token(r, URLSAFE, 38)}`,
  'telegram-bot-token': (r) => `${digits(r, 10)}:AA${token(r, URLSAFE, 33)}`,
  'square-access-token': (r) => 'EAAA' + token(r, URLSAFE, 60),
  'square-oauth-secret': (r) => pick(r, ['sq0atp-', 'sq0csp-']) + token(r, URLSAFE, 43),
  'private-key': (r) => {
    const kind = pick(r, ['RSA ', 'EC ', 'OPENSSH ', '']);
    const body = Array.from({ length: 6 }, () => token(r, B64, 64)).join('\n');
    return `-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`;
  },
  jwt: (r) =>
    `${b64url(JSON.stringify({ alg: pick(r, ['HS256', 'RS256', 'ES256']), typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: token(r, ALNUM, 10), iat: 1700000000 + int(r, 0, 1e7) }))}.${token(r, URLSAFE, 43)}`,
  'password-assignment': (r) => `${pick(r, ['Winter', 'Summer', 'Blue', 'Tiger', 'Rocket'])}${digits(r, 4)}${pick(r, ['!', '#', '$', '%', '@'])}${token(r, ALNUM, 4)}`,
  'connection-string-password': (r) => token(r, ALNUM + '!$%^*', 16),
  'generic-api-secret': (r) => token(r, ALNUM + '_-', int(r, 32, 48)),
  'credit-card': (r) => {
    const [prefix, length] = pick(r, [
      ['4', 16],
      ['51', 16],
      ['55', 16],
      ['2221', 16],
      ['34', 15],
      ['37', 15],
      ['6011', 16],
      ['3530', 16],
    ] as const);
    const n = luhnComplete(prefix, length, r);
    if (length === 15) return r() < 0.5 ? n : `${n.slice(0, 4)} ${n.slice(4, 10)} ${n.slice(10)}`;
    return r() < 0.5 ? n : n.match(/.{4}/g)!.join(pick(r, [' ', '-']));
  },
  'us-ssn': (r) => `${String(int(r, 1, 665)).padStart(3, '0')}-${String(int(r, 1, 99)).padStart(2, '0')}-${String(int(r, 1, 9999)).padStart(4, '0')}`,
  'us-ssn-labelled': (r) => `${String(int(r, 1, 665)).padStart(3, '0')}${String(int(r, 1, 99)).padStart(2, '0')}${String(int(r, 1, 9999)).padStart(4, '0')}`,
  iban: (r) => {
    const [country, length] = pick(r, [
      ['DE', 22],
      ['GB', 22],
      ['FR', 27],
      ['NL', 18],
      ['ES', 24],
      ['CH', 21],
    ] as const);
    const v = ibanFor(country, length, r);
    return r() < 0.5 ? v : v.match(/.{1,4}/g)!.join(' ');
  },
};

/** How each value is leaked in chat: the sentence around it, per detector where context matters. */
const contexts: Record<string, ((v: string, r: Rng) => string)[]> = {
  'aws-secret-access-key': [(v) => `aws_secret_access_key = ${v}`, (v) => `AWS secret key: ${v}`, (v) => `export AWS_SECRET_ACCESS_KEY="${v}"`],
  'gcp-service-account-key': [(v) => `{"type": "service_account", "project_id": "acme-prod", "private_key_id": "${v}", "client_email": "ci@acme-prod.iam.gserviceaccount.com"}`],
  'twilio-auth-token': [(v) => `twilio auth token: ${v}`, (v) => `TWILIO_AUTH_TOKEN=${v}`],
  'heroku-api-key': [(v) => `heroku api key is ${v}`, (v) => `HEROKU_API_KEY=${v}`],
  'datadog-api-key': [(v) => `DD_API_KEY=${v}`, (v) => `datadog api key: ${v}`],
  'discord-bot-token': [(v) => `discord bot token ${v}`, (v) => `DISCORD_TOKEN=${v} for the discord bot`],
  'azure-storage-account-key': [(v) => `DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${v};EndpointSuffix=core.windows.net`],
  'password-assignment': [(v) => `the staging db password is ${v}`, (v) => `password: ${v}`, (v) => `PASSWORD=${v}`, (v) => `pwd=${v} (temporary)`],
  'connection-string-password': [
    (v, r) => `DATABASE_URL=postgres://app_${chars(r, LOWER, 4)}:${v}@db.internal.acme.io:5432/orders`,
    (v) => `try mongodb+srv://admin:${v}@cluster0.mongodb.net/test`,
    (v) => `<redis://default:${v}@cache.acme.io:6379>`,
  ],
  'generic-api-secret': [(v) => `api_key: ${v}`, (v) => `client_secret = "${v}"`, (v) => `here is the auth token=${v}`],
  'us-ssn-labelled': [(v) => `SSN ${v} for the payroll form`, (v) => `her social security number is ${v}`],
  'credit-card': [(v) => `card ${v} exp 09/28`, (v) => `charge it to ${v} please`, (v) => `my cc is ${v}`],
  'us-ssn': [(v) => `SSN: ${v}`, (v) => `employee ${v} needs a new badge`],
  iban: [(v) => `wire it to ${v} by Friday`, (v) => `IBAN ${v}`],
};

const genericContexts: ((v: string, r: Rng) => string)[] = [
  (v) => `here you go: ${v}`,
  (v) => `can someone check why ${v} stopped working?`,
  (v) => `\`${v}\``,
  (v) => `${v}`,
  (v) => `use this one for now ${v} and rotate later`,
  (v) => `config:\n\`\`\`\nTOKEN=${v}\n\`\`\``,
];

/** A chat message leaking one fresh value of `detector`'s format. */
export function leak(detector: string, r: Rng): string {
  const value = secretValues[detector]!(r);
  return pick(r, contexts[detector] ?? genericContexts)(value, r);
}

/** Near misses: the detector's format with a placeholder, mask or published example in it. */
export const nearMisses: Record<string, string[]> = {
  'aws-access-key-id': ['AKIAIOSFODNN7EXAMPLE', 'AKIAXXXXXXXXXXXXXXXX', 'use an AKIA… key id here'],
  'aws-secret-access-key': ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}', 'aws secret key: ****************************************'],
  'github-pat': ['ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'GITHUB_TOKEN=ghp_<your-token-here>', 'tokens start with ghp_ and are 40 chars'],
  'gitlab-pat': ['glpat-xxxxxxxxxxxxxxxxxxxx', 'glpat-<token>'],
  'slack-bot-token': ['xoxb-your-bot-token', 'SLACK_BOT_TOKEN=xoxb-...'],
  'slack-webhook-url': ['https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX'],
  'stripe-secret-key': ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx', 'STRIPE_KEY=sk_live_${KEY}'],
  'openai-api-key': ['OPENAI_API_KEY=sk-...', 'sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'private-key': ['-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----', 'paste your -----BEGIN PRIVATE KEY----- block into the vault, not here'],
  jwt: ['eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjMifQ.', 'JWTs look like eyJ...'],
  'password-assignment': ['password: ********', 'password is required', 'password=${DB_PASSWORD}', 'password: <your password>', 'reset your password at https://id.acme.io', 'the password is changeme'],
  'connection-string-password': ['postgres://user:password@localhost:5432/db', 'mysql://root:${MYSQL_PASSWORD}@db:3306/app', 'https://user:pass@example.com', 'redis://:****@cache:6379'],
  'generic-api-secret': ['api_key: your-api-key-here', 'token: 0123456789abcdef0123456789abcdef01234567', 'secret = "{{ vault.secret }}"', 'client_secret=<CLIENT_SECRET>'],
  'credit-card': ['test card 4242 4242 4242 4242', '4111-1111-1111-1111', 'order 4111 1111 1111 1112 failed', 'card ending 4242', '1234 5678 9012 3456'],
  'us-ssn': ['SSN 000-12-3456', 'SSN 666-12-3456', 'SSN 912-34-5678', 'ssn 123-00-4567', 'ssn 123-45-0000', 'the sample SSN 078-05-1120', 'call 415-555-2671'],
  iban: ['IBAN DE89 3704 0044 0532 0130 01', 'GB00 XXXX 0000 0000 0000 00', 'ref NL00ABNA0000000000'],
};

/** A 16-digit number with a Visa prefix whose check digit is wrong. */
function luhnFailing(r: Rng): string {
  const valid = luhnComplete('4', 16, r);
  return valid.slice(0, 15) + String((Number(valid[15]) + 1 + Math.floor(r() * 8)) % 10);
}

/** Ordinary chat with look-alikes in it: none of this may produce a secret or PII finding. */
export function ordinaryChat(r: Rng): string {
  const uuid = () => `${chars(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-a${chars(r, HEX, 3)}-${chars(r, HEX, 12)}`;
  const templates: (() => string)[] = [
    () => pick(r, ['Morning all!', 'standup in 5', 'lunch?', 'ship it 🚀', 'LGTM', 'thanks!', 'who is on call this week?', 'reverting, sorry']),
    () => `deployed ${chars(r, HEX, 7)} to staging, commit ${chars(r, HEX, 40)}`,
    () => `request id ${uuid()} failed with 502`,
    () => `sha256 of the artifact: ${chars(r, HEX, 64)}`,
    () => `md5 ${chars(r, HEX, 32)} matches`,
    () => `event at ${1700000000000 + int(r, 0, 1e10)} and ${new Date(1.7e12 + int(r, 0, 1e10)).toISOString()}`,
    () => `call me at +1 ${digits(r, 3)} ${digits(r, 3)} ${digits(r, 4)} or (${digits(r, 3)}) ${digits(r, 3)}-${digits(r, 4)}`,
    () => `order number ${digits(r, 12)} shipped`,
    () => `card-shaped but invalid: ${luhnFailing(r)}`,
    () => `ticket JIRA-${int(r, 100, 9999)}: the tokenizer and the secret santa list, password reset flow`,
    () => `the api key lives in vault at secret/data/payments, ask #sec for access`,
    () => `build ${int(r, 1000, 99999)} took ${int(r, 1, 59)}m; see https://ci.acme.io/jobs/${uuid()}`,
    () => `ip 10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 0, 255)} port ${int(r, 1024, 65535)}`,
    () => `docker pull registry.acme.io/api@sha256:${chars(r, HEX, 64)}`,
    () => `version 2.${int(r, 0, 40)}.${int(r, 0, 99)} released, changelog at https://github.com/acme/api/releases`,
    () => `base64 of hello world is aGVsbG8gd29ybGQ=`,
    () => `see https://docs.acme.io/guide?utm_source=slack&ref=${chars(r, ALNUM, 12)}`,
    () => `invoice INV-${digits(r, 8)} total $${int(r, 10, 9999)}.${digits(r, 2)}`,
    () => `tracking 1Z${chars(r, UPPER + DIGITS, 16)}`,
  ];
  return pick(r, templates)();
}
