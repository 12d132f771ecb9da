/**
 * The bridge's operator controls from configuration: SENTINEL_OPERATORS (user groups read with the
 * bot token), the AUDIT stream refusals go to, and a Temporal client for the Updates — connected
 * lazily, so that a bridge starts and keeps storing events while Temporal is away. Without
 * SENTINEL_OPERATORS no Temporal client is made: every click and command is refused and audited.
 */
import type { Client } from '@temporalio/client';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { jetStreamAudit } from '../../activities/audit';
import { activityWebClient } from '../../activities/slack-client';
import type { Config } from '../config';
import type { Logger } from '../log';
import { ensureAuditStream } from '../nats/streams';
import { lazyClient } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import { SlackControls } from './controls';
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
  const controls = new SlackControls({ operators, temporal, audit: jetStreamAudit(js), log: log.child({ part: 'controls' }) });
  return {
    controls,
    async close() {
      await controls.drain();
      await temporal?.connection.close().catch(() => undefined);
    },
  };
}
