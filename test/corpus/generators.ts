/**
 * A labeled corpus generated from a seed: for each built-in detector, messages that leak a freshly
 * made value of its format, and near misses that only look like one (placeholders, masks,
 * published examples); plus ordinary chat full of look-alikes (UUIDs, SHAs, digests, timestamps,
 * phone numbers, Luhn-failing numbers). Nothing here is copied from another project. Each family of
 * detectors keeps its generators in families/.
 */
import { family as aiPackages } from './families/ai-packages';
import { family as cloud } from './families/cloud';
import { family as code } from './families/code';
import { family as generic } from './families/generic';
import { family as messagingPayments } from './families/messaging-payments';
import { family as monitoring } from './families/monitoring';
import { family as pii } from './families/pii';
import { ALNUM, chars, DIGITS, digits, genericContexts, HEX, int, luhnComplete, pick, UPPER, type Family, type Rng } from './random';

export { chars, pick, rng, type Rng } from './random';

const families: Family[] = [code, aiPackages, cloud, messagingPayments, monitoring, generic, pii];

/** One fresh value per detector, in the detector's real format. */
export const secretValues: Record<string, (r: Rng) => string> = Object.assign({}, ...families.map((f) => f.values));
/** How each value is leaked in chat: the sentence around it, per detector where context matters. */
const contexts: Record<string, ((v: string, r: Rng) => string)[]> = Object.assign({}, ...families.map((f) => f.contexts));
/** Near misses: the detector's format with a placeholder, mask or published example in it. */
export const nearMisses: Record<string, string[]> = Object.assign({}, ...families.map((f) => f.nearMisses));


/** A chat message leaking one fresh value of `detector`'s format. */
export function leak(detector: string, r: Rng): string {
  return sentenceFor(detector, secretValues[detector]!(r), r);
}

/** A chat message leaking `value` the way `detector`'s values are leaked (next to their name where they need it). */
export function sentenceFor(detector: string, value: string, r: Rng): string {
  return pick(r, contexts[detector] ?? genericContexts)(value, r);
}

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
