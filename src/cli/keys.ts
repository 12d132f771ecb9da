/**
 * `sentinel keys generate`: new key material as environment lines, for a secret store. Printed on
 * stdout because that is what the command is for; nothing else in Sentinel prints a key.
 */
import { newKeyMaterial } from '../crypto/keys';

export function keysGenerate(kind: string | undefined, existing: string | undefined): number {
  const fresh = newKeyMaterial();
  const lines: Record<string, string[]> = {
    codec: existing
      ? ['# the new key first: it seals from now on; the old ones still open the histories written under them', `SENTINEL_CODEC_KEYS=${fresh.SENTINEL_CODEC_KEYS},${existing}`]
      : [`SENTINEL_CODEC_KEYS=${fresh.SENTINEL_CODEC_KEYS}`],
    fingerprint: [`SENTINEL_FINGERPRINT_KEY=${fresh.SENTINEL_FINGERPRINT_KEY}`],
    'codec-server-token': [`SENTINEL_CODEC_SERVER_TOKEN=${fresh.SENTINEL_CODEC_SERVER_TOKEN}`],
  };
  const chosen = kind ? lines[kind] : Object.values(lines).flat();
  if (!chosen) {
    process.stderr.write(`sentinel keys generate: unknown kind "${kind}"; one of ${Object.keys(lines).join(', ')}\n`);
    return 2;
  }
  process.stdout.write(chosen.join('\n') + '\n');
  return 0;
}
