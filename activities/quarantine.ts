/**
 * The review of a quarantined message: restore (re-post it with attribution, once) or discard (delete
 * the sealed copy). The text exists only inside restoreQuarantined, between opening the copy and the
 * post: never in an argument, a result, the audit trail or a log.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, restoreKey, type PostOutcome, type QuarantineActivities } from '../contract';
import type { NoticeLedger } from './notice-ledger';
import { QuarantineError, type QuarantinedMessage, type QuarantineVault } from './quarantine-vault';

export interface QuarantineDeps {
  vault: QuarantineVault;
  /** Posts once per key (the Slack activities' post-once, through the notice ledger). */
  post: (n: { incidentId: string; channel: string; text: string; key: string }) => Promise<PostOutcome>;
  ledger: NoticeLedger;
}

/** A Slack mention for a user id (U…/W…); an operator named otherwise (a login name) as written. */
const mention = (who: string) => (/^[UW][A-Z0-9]{2,}$/.test(who) ? `<@${who}>` : who);

/**
 * The re-posted message: who reviewed it, who wrote it and when (Slack's date formatting shows the
 * reader's own time zone: https://api.slack.com/reference/surfaces/formatting#date-formatting), then the text.
 */
export function restoredText(m: QuarantinedMessage, by: string): string {
  const seconds = Math.floor(Number(m.ts));
  const when = Number.isFinite(seconds) ? `<!date^${seconds}^{date_short_pretty} at {time}|${new Date(seconds * 1000).toISOString()}>` : m.ts;
  return `:leftwards_arrow_with_hook: Restored by Sentinel after review by ${mention(by)}: originally posted by <@${m.user}> at ${when}:\n${m.text}`;
}

export function createQuarantineActivities(d: QuarantineDeps) {
  return {
    async restoreQuarantined({ incidentId, by }) {
      const key = restoreKey(incidentId);
      let copy: QuarantinedMessage | undefined;
      try {
        copy = await d.vault.read(incidentId);
      } catch (err) {
        // A copy the codec cannot open (a key no longer configured) will not open on a retry either.
        if (err instanceof QuarantineError || (err as Error)?.name === 'PayloadDecryptionError') {
          throw ApplicationFailure.create({ type: FailureType.QuarantinePermanent, nonRetryable: true, message: `cannot open the quarantined copy of ${incidentId}: ${(err as Error).message}` });
        }
        throw err;
      }
      if (!copy) {
        // Posted and then removed by an earlier attempt; or never restored and gone (discarded, expired).
        const record = await d.ledger.get(key);
        if (record?.state === 'posted') return { outcome: 'already_restored', detail: `re-posted in ${record.channel} as ${record.ts}` };
        return { outcome: 'gone', detail: 'no sealed copy left (discarded, or past the quarantine retention): nothing to restore' };
      }
      const posted = await d.post({ incidentId, channel: copy.channel, text: restoredText(copy, by), key });
      await d.vault.remove(incidentId);
      const record = await d.ledger.get(key);
      const where = record?.state === 'posted' ? `re-posted in ${record.channel} as ${record.ts}` : `re-posted in ${copy.channel}`;
      return { outcome: posted === 'posted' ? 'restored' : 'already_restored', detail: `${where}; sealed copy deleted` };
    },

    async discardQuarantined({ incidentId }) {
      return (await d.vault.remove(incidentId)) ? 'discarded' : 'already_gone';
    },
  } satisfies QuarantineActivities;
}
