/** Corpus generators for the generic detectors (rules/secrets-generic.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, B64, b64url, chars, digits, int, LOWER, pick, token, URLSAFE, type Family } from '../random';

export const family: Family = {
  values: {
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
  },
  contexts: {
  'password-assignment': [(v) => `the staging db password is ${v}`, (v) => `password: ${v}`, (v) => `PASSWORD=${v}`, (v) => `pwd=${v} (temporary)`],
  'connection-string-password': [
    (v, r) => `DATABASE_URL=postgres://app_${chars(r, LOWER, 4)}:${v}@db.internal.acme.io:5432/orders`,
    (v) => `try mongodb+srv://admin:${v}@cluster0.mongodb.net/test`,
    (v) => `<redis://default:${v}@cache.acme.io:6379>`,
  ],
  'generic-api-secret': [(v) => `api_key: ${v}`, (v) => `client_secret = "${v}"`, (v) => `here is the auth token=${v}`],
  },
  nearMisses: {
  'private-key': ['-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----', 'paste your -----BEGIN PRIVATE KEY----- block into the vault, not here'],
  jwt: ['eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjMifQ.', 'JWTs look like eyJ...'],
  'password-assignment': ['password: ********', 'password is required', 'password=${DB_PASSWORD}', 'password: <your password>', 'reset your password at https://id.acme.io', 'the password is changeme'],
  'connection-string-password': ['postgres://user:password@localhost:5432/db', 'mysql://root:${MYSQL_PASSWORD}@db:3306/app', 'https://user:pass@example.com', 'redis://:****@cache:6379'],
  'generic-api-secret': ['api_key: your-api-key-here', 'token: 0123456789abcdef0123456789abcdef01234567', 'secret = "{{ vault.secret }}"', 'client_secret=<CLIENT_SECRET>'],
  },
};
