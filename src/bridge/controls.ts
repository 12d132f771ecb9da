/**
 * The operator's loop in Slack: button clicks on security summaries (block_actions) and `/sentinel`
 * commands become incident Updates, sent with the clicking user as `by` once that user is found in
 * SENTINEL_OPERATORS. Slack wants an answer within 3 s (https://api.slack.com/interactivity/handling#acknowledgment_response):
 * each request is answered at once and the work runs after, its outcome sent to the request's
 * response_url — the summary's buttons replaced by who did what (replace_original), or an ephemeral
 * note to the user when the workflow or the operator check refused. A refusal of a non-operator is
 * also written to the incident's audit trail. The same code serves HTTP and Socket Mode.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { auditSubject, COMMAND_CONTROLS, CONTROL_TEXT, isOperatorControl, type AuditRecord, type IncidentState, type OperatorAction, type OperatorControl } from '../../contract';
import type { AuditWriter } from '../../activities/audit';
import { withOutcome, type Block } from '../../activities/summary-blocks';
import type { Logger } from '../log';
import type { Operators } from './operators';

/** What the bridge answers Slack at once: an HTTP status and body (for Socket Mode, the ack's payload). */
export interface ImmediateAnswer {
  status: number;
  /** Undefined: an empty 200 (Slack shows nothing; the outcome follows through response_url). */
  body?: Record<string, unknown>;
}

/** A button click on a summary, as the bridge needs it from a block_actions payload. */
export interface BlockAction {
  user: string;
  control: OperatorControl;
  incidentId: string;
  responseUrl: string;
  /** Unique per click (action_ts, else trigger_id): the audit record of a refusal is written once per click. */
  clickId: string;
  /** The message clicked on, when it was one: its blocks are updated with the outcome. */
  message?: { text?: string; blocks?: unknown };
  /** `<channel>/<ts>` of that message: outcomes on one message are applied one after another. */
  messageKey?: string;
}

/** A `/sentinel` command, parsed. */
export type SentinelCommand =
  | { kind: 'incidents' }
  | { kind: 'show'; incidentId: string }
  | { kind: 'control'; verb: string; control: OperatorControl; incidentId: string; reason?: string }
  | { kind: 'usage'; problem?: string };

const USER = /^[UW][A-Z0-9]{2,}$/;
/** Incident ids as contract/ids.ts makes them; anything else is not looked up, nor audited under. */
const INCIDENT_ID = /^incident\/[A-Za-z0-9._:-]+(\/[A-Za-z0-9._:-]+){4,5}$/;

export const USAGE = [
  '*/sentinel* — steer Sentinel incidents (operators only):',
  '• `/sentinel incidents` — the open incidents',
  '• `/sentinel show <id>` — one incident: status, steps, what waits',
  '• `/sentinel approve|reject <id> [reason]` — decide on a revocation awaiting approval',
  '• `/sentinel dismiss|retry|escalate <id> [reason]` — a false positive; re-run a failed step; raise it',
  '• `/sentinel restore|discard <id> [reason]` — decide on a quarantined message',
].join('\n');

/** The click of a block_actions payload, or why it is not one Sentinel acts on. */
export function parseBlockAction(payload: unknown): BlockAction | { problem: string } {
  const p = payload as {
    type?: unknown;
    user?: { id?: unknown };
    actions?: { action_id?: unknown; value?: unknown; action_ts?: unknown }[];
    response_url?: unknown;
    trigger_id?: unknown;
    message?: { text?: unknown; blocks?: unknown };
    container?: { channel_id?: unknown; message_ts?: unknown };
  };
  if (p?.type !== 'block_actions') return { problem: 'not a block_actions payload' };
  const user = p.user?.id;
  if (typeof user !== 'string' || !USER.test(user)) return { problem: 'block_actions without a valid user.id' };
  const action = Array.isArray(p.actions) ? p.actions[0] : undefined;
  if (!action || !isOperatorControl(action.action_id)) return { problem: 'no Sentinel control among the actions' };
  if (typeof action.value !== 'string' || !INCIDENT_ID.test(action.value)) return { problem: 'the action carries no incident id' };
  if (typeof p.response_url !== 'string' || !/^https?:\/\//.test(p.response_url)) return { problem: 'block_actions without a response_url' };
  const clickId = typeof action.action_ts === 'string' ? action.action_ts : typeof p.trigger_id === 'string' ? p.trigger_id : String(Date.now());
  const { channel_id, message_ts } = p.container ?? {};
  return {
    ...(typeof channel_id === 'string' && typeof message_ts === 'string' ? { messageKey: `${channel_id}/${message_ts}` } : {}),
    user,
    control: action.action_id,
    incidentId: action.value,
    responseUrl: p.response_url,
    clickId,
    ...(p.message ? { message: { ...(typeof p.message.text === 'string' ? { text: p.message.text } : {}), blocks: p.message.blocks } } : {}),
  };
}

/** The text after `/sentinel`. */
export function parseCommand(text: string): SentinelCommand {
  const [verb = '', id, ...rest] = text.trim().split(/\s+/).filter(Boolean);
  const sub = verb.toLowerCase();
  if (sub === 'incidents' || sub === 'list') return { kind: 'incidents' };
  if (sub === '' || sub === 'help') return { kind: 'usage' };
  const control = COMMAND_CONTROLS[sub];
  if (sub !== 'show' && !control) return { kind: 'usage', problem: `unknown subcommand ${JSON.stringify(verb.slice(0, 40))}` };
  if (!id) return { kind: 'usage', problem: `${sub} needs an incident id` };
  if (!INCIDENT_ID.test(id)) return { kind: 'usage', problem: `${JSON.stringify(id.slice(0, 200))} is not an incident id (incident/<source>/<team>/<channel>/<ts>/<rule>)` };
  if (sub === 'show') return { kind: 'show', incidentId: id };
  const reason = rest.join(' ').trim();
  return { kind: 'control', verb: sub, control: control!, incidentId: id, ...(reason ? { reason: reason.slice(0, 500) } : {}) };
}

export interface SlackControlsOptions {
  operators: Operators;
  /** The Temporal client Updates go through (codec data converter); undefined: controls answer that they are off. */
  temporal: Client | undefined;
  audit: AuditWriter;
  log: Logger;
  /** How long an Update may take before the user is told it did not answer; default 20 s. */
  updateTimeoutMs?: number;
  /** Posts to a response_url; default fetch. */
  respond?: (url: string, message: Record<string, unknown>) => Promise<void>;
  now?: () => Date;
  /** The security summaries, so that a decision made with /sentinel shows on its summary too; absent: it does not. */
  summaries?: SummaryMessages;
}

/** Where an incident's security summary is, and how to read and rewrite it (the bot's own message). */
export interface SummaryMessages {
  /** The message the incident's summary went out in (alone or in a digest), if it has. */
  locate(incidentId: string): Promise<{ channel: string; ts: string } | undefined>;
  /** The message as Slack has it now. */
  read(channel: string, ts: string): Promise<{ text?: string; blocks?: unknown } | undefined>;
  /** Replaces the message's blocks, keeping `text` as its fallback. */
  write(channel: string, ts: string, text: string, blocks: Block[]): Promise<void>;
}

export interface ControlStats {
  clicks: number;
  commands: number;
  applied: number;
  refusedOperator: number;
  refusedWorkflow: number;
  failed: number;
}

export class SlackControls {
  readonly stats: ControlStats = { clicks: 0, commands: 0, applied: 0, refusedOperator: 0, refusedWorkflow: 0, failed: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * The blocks this bridge last wrote to a message, and the outcome applied to it last: a click
   * carries the message as Slack showed it, which misses an outcome written a moment before (two
   * operators on one digest), so the newer blocks are the base, and one message's outcomes go in turn.
   */
  private readonly written = new Map<string, { blocks?: Block[]; turn: Promise<void> }>();

  constructor(private readonly o: SlackControlsOptions) {}

  /** A block_actions payload: answered at once, carried out after. */
  interaction(payload: unknown): ImmediateAnswer {
    const a = parseBlockAction(payload);
    if ('problem' in a) {
      this.o.log.warn('interaction ignored', { reason: a.problem });
      // 200 all the same: Slack shows the user an error for anything else, and there is nothing to retry.
      return { status: 200 };
    }
    this.stats.clicks += 1;
    this.later(() => this.click(a), a.responseUrl);
    return { status: 200 };
  }

  /** A slash command's fields: usage at once; anything else acknowledged at once and answered through response_url. */
  command(fields: Record<string, unknown>): ImmediateAnswer {
    const user = typeof fields.user_id === 'string' && USER.test(fields.user_id) ? fields.user_id : undefined;
    const responseUrl = typeof fields.response_url === 'string' && /^https?:\/\//.test(fields.response_url) ? fields.response_url : undefined;
    if (!user || !responseUrl) return { status: 400, body: { ok: false, error: 'slash command without a valid user_id or response_url' } };
    this.stats.commands += 1;
    const cmd = parseCommand(typeof fields.text === 'string' ? fields.text : '');
    if (cmd.kind === 'usage') return { status: 200, body: ephemeral(cmd.problem ? `${cmd.problem}.\n${USAGE}` : USAGE) };
    const clickId = typeof fields.trigger_id === 'string' ? fields.trigger_id : String(Date.now());
    this.later(() => this.slash(cmd, user, responseUrl, clickId), responseUrl);
    return { status: 200 };
  }

  /** Waits for the work of requests already answered. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }

  private later(work: () => Promise<void>, responseUrl: string): void {
    const p = work()
      .catch(async (err: unknown) => {
        this.stats.failed += 1;
        this.o.log.error('an operator request failed', { error: err });
        await this.respond(responseUrl, ephemeral(`:warning: Sentinel could not carry this out: ${(err as Error)?.message ?? String(err)}`));
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async click(a: BlockAction): Promise<void> {
    if (!(await this.allowed(a.user, a.control, a.incidentId, a.responseUrl, a.clickId))) return;
    const r = await this.update(a.incidentId, a.control, { by: a.user, reason: 'from the Slack summary' });
    if (!r.ok) return this.respond(a.responseUrl, ephemeral(`:warning: ${CONTROL_TEXT[a.control].label} \`${a.incidentId}\`: ${r.reason}`));
    const line = `:white_check_mark: ${CONTROL_TEXT[a.control].done} by <@${a.user}> at ${this.stamp()}; the incident is ${r.state.status}.`;
    // The summary shows the outcome in place of the incident's buttons; without them (an old message), a note to the user.
    await this.inTurn(a.messageKey, a.incidentId, line, async () => a.message, (blocks) =>
      this.respond(a.responseUrl, blocks ? { replace_original: true, text: a.message?.text ?? line, blocks } : ephemeral(line)),
    );
  }

  /**
   * Writes `line` in place of an incident's buttons on a summary message. One message's outcomes go
   * in turn, each on the blocks this bridge wrote to it last: a click carries the message as Slack
   * showed it, which misses an outcome written a moment before (two operators on one digest), so
   * the newer blocks are the base. `current`: the message as Slack has it, when this bridge wrote
   * none; `put` writes the result (undefined: the message has no buttons of the incident).
   */
  private async inTurn(
    key: string | undefined,
    incidentId: string,
    line: string,
    current: () => Promise<{ text?: string; blocks?: unknown } | undefined>,
    put: (blocks: Block[] | undefined, text: string | undefined) => Promise<void>,
  ): Promise<void> {
    const prior = key ? this.written.get(key) : undefined;
    const turn = (prior?.turn ?? Promise.resolve()).then(async () => {
      const mine = key ? this.written.get(key)?.blocks : undefined;
      const message = mine ? undefined : await current();
      const blocks = withOutcome(mine ?? message?.blocks, incidentId, line);
      const entry = key ? this.written.get(key) : undefined;
      if (blocks && entry) entry.blocks = blocks;
      await put(blocks, message?.text);
    });
    if (key) {
      this.written.delete(key);
      this.written.set(key, { ...(prior?.blocks ? { blocks: prior.blocks } : {}), turn: turn.catch(() => undefined) });
      // Summaries decided on recently; older ones are read from Slack again.
      while (this.written.size > 500) this.written.delete(this.written.keys().next().value!);
    }
    await turn;
  }

  private async slash(cmd: Exclude<SentinelCommand, { kind: 'usage' }>, user: string, responseUrl: string, clickId: string): Promise<void> {
    const control = cmd.kind === 'control' ? cmd.control : undefined;
    const incidentId = cmd.kind === 'incidents' ? undefined : cmd.incidentId;
    if (!(await this.allowed(user, control ?? cmd.kind, incidentId, responseUrl, clickId))) return;
    if (cmd.kind === 'incidents') return this.respond(responseUrl, ephemeral(await this.openIncidents()));
    if (cmd.kind === 'show') return this.respond(responseUrl, ephemeral(await this.show(cmd.incidentId)));
    const r = await this.update(cmd.incidentId, cmd.control, { by: user, reason: cmd.reason ?? 'from /sentinel' });
    if (!r.ok) return this.respond(responseUrl, ephemeral(`:warning: ${cmd.verb} \`${cmd.incidentId}\`: ${r.reason}`));
    await this.respond(responseUrl, ephemeral(`:white_check_mark: ${CONTROL_TEXT[cmd.control].done} by <@${user}> at ${this.stamp()}: \`${cmd.incidentId}\` is ${r.state.status}.`));
    await this.onSummary(cmd.incidentId, `:white_check_mark: ${CONTROL_TEXT[cmd.control].done} by <@${user}> at ${this.stamp()} (/sentinel); the incident is ${r.state.status}.`);
  }

  /** A decision made with /sentinel, shown on the incident's summary as a click's would be. The decision stands if this fails: it is logged. */
  private async onSummary(incidentId: string, line: string): Promise<void> {
    const summaries = this.o.summaries;
    if (!summaries) return;
    try {
      const at = await summaries.locate(incidentId);
      if (!at) return; // no summary yet (or none configured): the buttons, once posted, apply
      await this.inTurn(`${at.channel}/${at.ts}`, incidentId, line, () => summaries.read(at.channel, at.ts), async (blocks, text) => {
        if (blocks) await summaries.write(at.channel, at.ts, text ?? line, blocks);
      });
    } catch (err) {
      this.o.log.warn('could not show a /sentinel decision on the summary', { incidentId, error: err });
    }
  }

  /** The operator check; a refusal is told to the user and, for an incident, written to its audit trail. */
  private async allowed(user: string, what: string, incidentId: string | undefined, responseUrl: string, clickId: string): Promise<boolean> {
    const verdict = await this.o.operators.check(user);
    if (verdict.ok) return true;
    this.stats.refusedOperator += 1;
    this.o.log.warn('operator request refused', { user, control: what, incidentId, reason: verdict.reason });
    if (incidentId) {
      const record: AuditRecord = { incidentId, at: this.o.now?.().toISOString() ?? new Date().toISOString(), kind: 'operator', step: what, outcome: 'refused', actor: user, detail: verdict.reason };
      // Keyed by the click: a redelivered request is one record, two clicks are two.
      await this.o.audit.append(record, `${incidentId}#refused#${user}#${clickId}`).catch((err: unknown) => {
        this.o.log.error('could not audit a refused operator request', { user, incidentId, subject: auditSubject(incidentId), error: err });
      });
    }
    await this.respond(responseUrl, ephemeral(`:no_entry: <@${user}>, you are not a Sentinel operator (${verdict.reason}). Nothing was changed; the refusal is on the incident's audit trail.`));
    return false;
  }

  /** Sends the Update; a refusal by the workflow or Temporal comes back as the reason the user reads. */
  private async update(incidentId: string, control: OperatorControl, action: OperatorAction): Promise<{ ok: true; state: IncidentState } | { ok: false; reason: string }> {
    const temporal = this.o.temporal;
    if (!temporal) return { ok: false, reason: 'Sentinel controls are off on this bridge (no Temporal client configured)' };
    const timeoutMs = this.o.updateTimeoutMs ?? 20_000;
    try {
      const handle = temporal.workflow.getHandle(incidentId);
      const state = await temporal.withDeadline(Date.now() + timeoutMs, () => handle.executeUpdate<IncidentState, [OperatorAction]>(control, { args: [action] }));
      this.stats.applied += 1;
      this.o.log.info('operator request applied', { incidentId, control, by: action.by, status: state.status });
      return { ok: true, state };
    } catch (err) {
      this.stats.refusedWorkflow += 1;
      const reason = refusal(err, timeoutMs);
      this.o.log.warn('operator request not applied', { incidentId, control, by: action.by, reason });
      return { ok: false, reason };
    }
  }

  private async openIncidents(): Promise<string> {
    const temporal = this.o.temporal;
    if (!temporal) return 'Sentinel controls are off on this bridge (no Temporal client configured).';
    // Open: still running and not yet resolved or dismissed (awaiting approval or review, needing attention, at work).
    const query = `WorkflowType = 'incidentWorkflow' AND ExecutionStatus = 'Running' AND SentinelStatus NOT IN ('resolved', 'dismissed')`;
    const lines: string[] = [];
    let total = 0;
    for await (const w of temporal.workflow.list({ query })) {
      total += 1;
      if (lines.length < 20) {
        const sa = (name: string) => w.typedSearchAttributes.getAll().find((p) => p.key.name === name)?.value;
        lines.push(`• \`${w.workflowId}\` — *${String(sa('SentinelStatus') ?? '?')}*, ${String(sa('SentinelSeverity') ?? '?')}, rule ${String(sa('SentinelRule') ?? '?')}, since ${w.startTime.toISOString()}`);
      }
      if (total >= 200) break;
    }
    if (total === 0) return 'No open incidents.';
    const more = total > lines.length ? `\n…and ${total - lines.length}${total >= 200 ? '+' : ''} more (sentinel incidents list)` : '';
    return `${total} open incident${total === 1 ? '' : 's'}:\n${lines.join('\n')}${more}`;
  }

  private async show(incidentId: string): Promise<string> {
    const temporal = this.o.temporal;
    if (!temporal) return 'Sentinel controls are off on this bridge (no Temporal client configured).';
    try {
      const handle = temporal.workflow.getHandle(incidentId);
      const s = await temporal.withDeadline(Date.now() + (this.o.updateTimeoutMs ?? 20_000), () => handle.query<IncidentState>('state'));
      const steps = s.steps.map((x) => `${x.step} ${x.outcome}`).join(', ') || 'none yet';
      return [
        `*\`${s.incidentId}\`* — *${s.status}*`,
        `rule ${s.rule.id} (${s.severity ?? s.rule.severity}, ${s.rule.category}); matched \`${s.match.redacted}\` from <@${s.message.user}> in <#${s.message.channel}>`,
        `steps: ${steps}; pending: ${s.pending.join(', ') || 'nothing'}`,
        ...(s.failed ? [`needs attention: ${s.failed.step} failed: ${s.failed.reason}`] : []),
        ...(s.approval ? [`revocation ${s.approval.decision === 'approve' ? 'approved' : 'rejected'} by ${s.approval.by}`] : []),
        ...(s.dismissed ? [`dismissed by ${s.dismissed.by}${s.dismissed.reason ? `: ${s.dismissed.reason}` : ''}`] : []),
        ...(s.credential ? [`credential: ${s.credential.kind} ${s.credential.outcome}`] : []),
      ].join('\n');
    } catch (err) {
      return `:warning: show \`${incidentId}\`: ${refusal(err, this.o.updateTimeoutMs ?? 20_000)}`;
    }
  }

  private stamp(): string {
    return `${(this.o.now?.() ?? new Date()).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  }

  private async respond(url: string, message: Record<string, unknown>): Promise<void> {
    try {
      await (this.o.respond ?? postResponse)(url, message);
    } catch (err) {
      // Nothing else can tell the user: the log says what was lost (never the message, which may name an incident only).
      this.o.log.warn('could not answer through response_url', { error: err });
    }
  }
}

/** What the user reads when an Update or query did not go through. */
function refusal(err: unknown, timeoutMs: number): string {
  if (err instanceof WorkflowUpdateFailedError) return `refused: ${err.cause?.message ?? err.message}`;
  const message = (err as Error)?.message ?? String(err);
  // Temporal answers NOT_FOUND for an Update to a closed workflow too: tell the two apart by the message.
  if (message.includes('workflow execution already completed')) return 'the incident has already ended; this no longer applies';
  if (err instanceof WorkflowNotFoundError) return 'no such incident';
  if ((err as { code?: unknown }).code === 4 || /deadline/i.test(message)) return `no answer within ${Math.round(timeoutMs / 1000)} s (are the workers running?); it may still be applied, look again with /sentinel show`;
  return `Temporal could not take it: ${message}`;
}

function ephemeral(text: string): Record<string, unknown> {
  return { response_type: 'ephemeral', replace_original: false, text };
}

/** POSTs a message to a response_url (https://api.slack.com/interactivity/handling#message_responses). */
async function postResponse(url: string, message: Record<string, unknown>): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message), signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}: ${body.slice(0, 200)}`);
}
