/**
 * The bridge's operator controls from configuration: SENTINEL_OPERATORS (user groups read with the
 * bot token), the AUDIT stream refusals go to, and a Temporal client for the Updates — connected
 * lazily, so that a bridge starts and keeps storing events while Temporal is away. Without
 * SENTINEL_OPERATORS no Temporal client is made: every click and command is refused and audited.
 */
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { jetStreamAudit } from '../../activities/audit';
import { jetStreamNoticeLedger, type NoticeLedger } from '../../activities/notice-ledger';
import { activityWebClient } from '../../activities/slack-client';
import type { Block } from '../../activities/summary-blocks';
import type { Config } from '../config';
import type { Logger } from '../log';
import { ensureAuditStream } from '../nats/streams';
import { lazyClient } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import { SlackControls, type SummaryMessages } from './controls';
import { Operators, parseOperators } from './operators';

export interface OperatorLoop {
  controls: SlackControls;
  /** Waits for requests under way, then closes the Temporal connection. */
  close(): Promise<void>;
}

export async function startOperatorLoop(config: Config, js: JetStreamClient, jsm: JetStreamManager, log: Logger): Promise<OperatorLoop> {
  await ensureAuditStream(jsm);
  const { users, groups } = parseOperators(config.bridge.operators.join(','));
  const bot = config.slack.botToken ? activityWebClient(config.slack.botToken, config.slack.apiUrl) : undefined;
  const operators = new Operators({ users, groups, slack: bot, log: log.child({ part: 'operators' }) });
  if (!operators.configured) log.warn('SENTINEL_OPERATORS is not set: button clicks and /sentinel commands are refused (and audited); operators use the sentinel CLI');
  if (groups.length && !bot) log.warn('SENTINEL_OPERATORS names user groups but SLACK_BOT_TOKEN is not set: their members are refused', { groups });
  // The codec keys are needed to send Updates: fail at start, naming SENTINEL_CODEC_KEYS, rather than at the first click.
  const temporal: Client | undefined = operators.configured ? lazyClient(config.temporal, codecFrom(config)) : undefined;
  const summaries = bot && temporal ? summaryMessages(await jetStreamNoticeLedger(js), bot) : undefined;
  const controls = new SlackControls({ operators, temporal, audit: jetStreamAudit(js), log: log.child({ part: 'controls' }), ...(summaries ? { summaries } : {}) });
  return {
    controls,
    async close() {
      await controls.drain();
      await temporal?.connection.close().catch(() => undefined);
    },
  };
}

/**
 * The summaries as the workers posted them: the notice ledger has where each incident's summary
 * went (`<incident id>#summary`, its own message or a digest), and the bot, which posted it, reads
 * it back (conversations.history at its ts) and may rewrite it (chat.update).
 */
export function summaryMessages(ledger: NoticeLedger, bot: WebClient): SummaryMessages {
  return {
    async locate(incidentId) {
      const r = await ledger.get(`${incidentId}#summary`);
      return r?.state === 'posted' && r.ts ? { channel: r.channel, ts: r.ts } : undefined;
    },
    async read(channel, ts) {
      const page = await bot.conversations.history({ channel, latest: ts, inclusive: true, limit: 1 });
      const m = page.messages?.find((x) => x.ts === ts);
      return m ? { ...(m.text !== undefined ? { text: m.text } : {}), blocks: m.blocks } : undefined;
    },
    async write(channel, ts, text, blocks: Block[]) {
      await bot.chat.update({ channel, ts, text, blocks });
    },
  };
}
