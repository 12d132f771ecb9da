/** The placeholder filter every secret and PII candidate passes: what it turns down, and what it must never turn down. */
import { describe, expect, it } from 'vitest';
import { isPlaceholder } from '../../src/engine/placeholders';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('isPlaceholder', () => {
  it('turns down masks and published examples, for PII too', () => {
    for (const v of ['xxxxxxxxxxxxxxxx', 'sk_live_XXXXXXXXXXXX', '****************', '•••••••', 'AKIAIOSFODNN7EXAMPLE', '4242424242424242', '4242 4242 4242 4242']) {
      expect(isPlaceholder(v, false), v).toBe(true);
    }
    // Numbers are not judged by words or runs: a PII candidate "000000…" is the validator's business.
    expect(isPlaceholder('hunter2', false)).toBe(false);
  });

  it('turns down templates and variables', () => {
    for (const v of ['${DB_PASSWORD}', '{{ vault.secret }}', '$DB_PASSWORD', '$db_password', '$env:API_KEY', '%DB_PASSWORD%', '%(password)s', '%s', '$(cat /run/secrets/db)', '#{ENV["X"]}', '<your-token>', '[PASSWORD]', '@db_password', '{your_password}'.replace('{', '<').replace('}', '>')]) {
      expect(isPlaceholder(v), v).toBe(true);
    }
  });

  it('turns down references to where the secret lives', () => {
    for (const v of ['process.env.DB_PASSWORD', 'os.environ[', 'os.getenv(', 'System.getenv(', 'ENV[', 'secrets.DB_PASS', 'var.db_password', 'settings.API_KEY', 'config[', 'getpass.getpass()', 'input(', 'bcrypt.hashpw(pw', 'ENC(G7hTq9Lx2Kp4Vz8Rm3Wb)', 'Column(String(64))', '!vault', '{cipher}AQB3kG7hTq9Lx2Kp4Vz8Rm3Wb']) {
      expect(isPlaceholder(v), v).toBe(true);
    }
  });

  it('turns down hashes of secrets, which are not the secrets', () => {
    for (const v of [
      '$2b$12$KIXQJQ3n6x1c9Zr0TqXv0eTm5LkNw2bHs7Yc9JfD1eGaQiRt4UoV6',
      '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
      '$6$rounds=5000$saltsalt$Kp2vZ8xQm4TrW9zL',
      '{SSHA}Kp2vZ8xQm4TrW9zLx7Tq',
      'pbkdf2_sha256$600000$Kp2vZ8xQm4$TrW9zLx7Tq',
      'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy',
      'md55f4dcc3b5aa765d61d8327deb882cf99',
      'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    ]) {
      expect(isPlaceholder(v), v).toBe(true);
    }
  });

  it('turns down obvious fakes, placeholder words, sequences and truncations', () => {
    for (const v of [
      'password123', 'Password1!', 'P@ssw0rd', 'changeme', 'changeit', 'hunter2', 'foobar', 'admin123', 'letmein', 'guest', 'postgres', 'tiger',
      'your-api-key-here', 'YOUR_ACCESS_TOKEN', 'hf_your_actual_token_here', 'sk_test_your_paystack_secret_key', 'insert_token_here', 'myPassword',
      'REDACTED', 'not-a-real-key', 'example-token-1234', 'dummy_secret_9', 'TODO', 'abcdef.0123456789abcdef', 'qwertyuiop1', 'ghp_abc...', 'eyJhbGci…',
      'aaaaaaaa12', '000000000000',
    ]) {
      expect(isPlaceholder(v), v).toBe(true);
    }
  });

  it('turns down identifiers and words that stand where a secret would', () => {
    for (const v of ['OPENAI_API_KEY', 'superSecretValue', 'hashed_password_from_db', 'change-this-to-a-long-random-string', 'supersecretjwtkeyforlocaldev', 'not-so-secret-dev-key']) {
      expect(isPlaceholder(v), v).toBe(true);
    }
  });

  it('decodes Basic credentials and Docker auth strings and judges their password', () => {
    expect(isPlaceholder('QWxhZGRpbjpvcGVuIHNlc2FtZQ==')).toBe(true); // RFC 7617's Aladdin:open sesame
    expect(isPlaceholder(b64('username:password'))).toBe(true);
    expect(isPlaceholder(b64('admin:admin'))).toBe(true);
    expect(isPlaceholder(b64('ci:${CI_PASSWORD}'))).toBe(true);
    expect(isPlaceholder(b64('ci_deploy:W4kpL9zXq2rT'))).toBe(false);
    // A dictionary word is a weak password, not a placeholder.
    expect(isPlaceholder(b64('alice:wonderland'))).toBe(false);
  });

  it('leaves real-looking secrets alone', () => {
    for (const v of [
      'tWV9yyg4e2jvPsLdUEd2zk',
      'ghp_s8GvvaXdnv6asntY3ymqYw93Aqpw1oaZNSGe',
      'Summer2024!',
      'Dragon4101!',
      'Rocket0819#5d9S',
      'm4[ZBwoDEiP5!^$',
      'xB13t(AoN(JOG7)3}b',
      '$V7yXim6xdT88uya',
      'kTzQwPmLxVbNrYhG',
      'JBSWY3DPEHPK3PXPQRST',
      'f3a91c0d7be24e58a6c1d09f7e3b2a4c',
      'q3x9vk.2mzp7rt4lw8nby6c',
      'S3cr3t&Pw9x',
      // Tokens of other shapes: brackets that are not code, capitals that are not a CONSTANT_NAME, letters that are not words.
      'flrt_i(4U6gb[u[M[x.G',
      'TKN-PLMOKN',
      'XKQPM-TRWZB-HNVDL',
      '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',
      // base64 of JSON, not of user:password; a random token that happens to hold "tODo".
      'eyJrIjoiTDg4dWd3M0pRREJhbkc0M2tBd3BVZU5GVWFmZ2FzamQiLCJuIjoic3RhZ2luZy14bm91IiwiaWQiOjIwOTg0NH0=',
      'Hq7tODo+3kLm9XzR2vBn',
    ]) {
      expect(isPlaceholder(v), v).toBe(false);
    }
  });

  it('leaves key material alone: runs of A for zero bytes, and words that random base64 holds by chance', () => {
    // openssh-key-v1 of an Ed25519 key: "none" cipher, "none" KDF, one key, zero-length fields.
    const openssh = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACD+901539wg20I9TIzR7ITrizBNOTYlSIF1PvFHGDbTawAAAIgl+0GuJftB\nrgAAAAtzc2gtZWQyNTUxOQAAACD+901539wg20I9TIzR7ITrizBNOTYlSIF1PvFHGDbTaw\n';
    expect(isPlaceholder(openssh)).toBe(false);
    const pemBody = 'MIIEpAIBAAKCAQEAu8Zr3TqXv0Pm5LkNw2bHs7Yc9JfD1eGaQiRt4UoV6xWnKpZy3l\nM2o8Sd5FhGj0CkBv7NtLqEw9Xr4Pa1YmUe6IcTbHz2OsDgJ3KfRn5Vq8Wi0+fake3Ag\nB9tcF6wbrcIQZQuocvNr8CU4Lk2Qw9Zr7Tn3mVb8Hc1Xy6Za1Pd0Af6Gh1Jk8Ml3No\n';
    expect(isPlaceholder(pemBody)).toBe(false);
    // A long body that is all one character is still a mask.
    expect(isPlaceholder(`MIIEpAIBAAKCAQEA${'A'.repeat(120)}`)).toBe(true);
  });
});
