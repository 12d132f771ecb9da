/**
 * The dev stack's own keys: made once, kept in .sentinel/dev-secrets.env (mode 0600, git-ignored),
 * so that histories written yesterday still decode today. Production keys come from a secret store.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKeyMaterial } from '../crypto/keys';

export const secretsFile = (home: string) => join(home, 'dev-secrets.env');

/** The dev stack's secrets, created on first use. */
export function devSecrets(home: string): Record<string, string> {
  const file = secretsFile(home);
  if (existsSync(file)) {
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }
  const secrets: Record<string, string> = newKeyMaterial();
  mkdirSync(home, { recursive: true });
  const lines = ['# Keys of the dev stack (made by "npm run stack -- up"). Never reuse them in production.', ...Object.entries(secrets).map(([k, v]) => `${k}=${v}`)];
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return secrets;
}
