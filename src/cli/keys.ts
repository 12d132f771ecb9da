/**
 * `sentinel keys generate`: new key material as environment lines, for a secret store. Printed on
 * stdout because that is what the command is for; nothing else in Sentinel prints a key.
 */
import { generateKey, newKeyId } from '../crypto/keys';

export function keysGenerate(kind: string | undefined, existing: string | undefined): number {
  const codecKey = `${newKeyId()}:${generateKey()}`;
  const lines: Record<string, string[]> = {
    codec: existing
      ? ['# the new key first: it seals from now on; the old ones still open the histories written under them', `SENTINEL_CODEC_KEYS=${codecKey},${existing}`]
      : [`SENTINEL_CODEC_KEYS=${codecKey}`],
    fingerprint: [`SENTINEL_FINGERPRINT_KEY=${generateKey()}`],
    'codec-server-token': [`SENTINEL_CODEC_SERVER_TOKEN=${generateKey(24).replaceAll('/', '_').replaceAll('+', '-')}`],
  };
  const chosen = kind ? lines[kind] : Object.values(lines).flat();
  if (!chosen) {
    process.stderr.write(`sentinel keys generate: unknown kind "${kind}"; one of ${Object.keys(lines).join(', ')}\n`);
    return 2;
  }
  process.stdout.write(chosen.join('\n') + '\n');
  return 0;
}
