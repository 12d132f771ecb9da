/**
 * The security summary as a Block Kit message (https://api.slack.com/reference/block-kit/blocks):
 * per incident a section with its summary text and an actions block of buttons whose action_id
 * names the incident Update and whose value is the incident id. The message's plain `text` stays
 * the fallback that notifications and screen readers show. Once a control was used, the bridge
 * swaps that incident's buttons for a context line saying who did what (withOutcome).
 */
import { CONTROL_TEXT, type OperatorControl } from '../contract';

/** The Block Kit blocks Sentinel sends: a loose shape, as Slack's JSON is. */
export type Block = Record<string, unknown> & { type: string };

/** Slack refuses a message with more than 50 blocks (invalid_blocks). */
export const MAX_BLOCKS = 50;
/** A section's text is at most 3000 characters. */
const MAX_SECTION_TEXT = 3000;
/** Blocks per incident in a digest (section + actions): a digest's header plus this many per incident stays within MAX_BLOCKS. */
export const BLOCKS_PER_INCIDENT = 2;
/** Incidents one digest message can carry as blocks. */
export const MAX_INCIDENTS_PER_MESSAGE = Math.floor((MAX_BLOCKS - 1) / BLOCKS_PER_INCIDENT);

/** A summary notice with its incident's controls. */
export interface ControlledNotice {
  incidentId: string;
  text: string;
  controls: OperatorControl[];
}

function section(text: string): Block {
  const t = text.length > MAX_SECTION_TEXT ? `${text.slice(0, MAX_SECTION_TEXT - 1)}…` : text;
  return { type: 'section', text: { type: 'mrkdwn', text: t } };
}

function button(control: OperatorControl, incidentId: string): Block {
  const b: Block = { type: 'button', action_id: control, text: { type: 'plain_text', text: CONTROL_TEXT[control].label }, value: incidentId };
  if (control === 'approveRevocation') b.style = 'primary';
  if (control === 'rejectRevocation' || control === 'discard') b.style = 'danger';
  // A confirmation dialog before what cannot be taken back (https://api.slack.com/reference/block-kit/composition-objects#confirm).
  if (control === 'approveRevocation' || control === 'discard') {
    b.confirm = {
      title: { type: 'plain_text', text: 'Are you sure?' },
      text: { type: 'mrkdwn', text: control === 'approveRevocation' ? 'The key or credential is disabled at once.' : 'The quarantined copy is destroyed for good.' },
      confirm: { type: 'plain_text', text: CONTROL_TEXT[control].label },
      deny: { type: 'plain_text', text: 'Cancel' },
    };
  }
  return b;
}

/** One incident's blocks: its summary, then its buttons (none when it has no controls). */
export function incidentBlocks(n: ControlledNotice, index = 0): Block[] {
  const blocks = [section(n.text)];
  if (n.controls.length) blocks.push({ type: 'actions', block_id: `sentinel-controls-${index}`, elements: n.controls.map((c) => button(c, n.incidentId)) });
  return blocks;
}

/** A digest's blocks: a header line, then each incident's section and buttons; never more than MAX_BLOCKS. */
export function digestBlocks(header: string, notices: ControlledNotice[]): Block[] {
  if (notices.length > MAX_INCIDENTS_PER_MESSAGE) throw new Error(`a digest carries at most ${MAX_INCIDENTS_PER_MESSAGE} incidents as blocks (Slack allows ${MAX_BLOCKS} blocks), got ${notices.length}`);
  return [section(header), ...notices.flatMap((n, i) => incidentBlocks(n, i))];
}

/** Whether `block` is the actions block of `incidentId` (its buttons carry the incident id as their value). */
function isControlsOf(block: Block, incidentId: string): boolean {
  return block.type === 'actions' && Array.isArray(block.elements) && (block.elements as { value?: unknown }[]).some((e) => e.value === incidentId);
}

/**
 * The message's blocks with `incidentId`'s buttons replaced by a context line (`line`, mrkdwn); the
 * other incidents of a digest keep theirs. Undefined when the message has no buttons of that incident.
 */
export function withOutcome(blocks: unknown, incidentId: string, line: string): Block[] | undefined {
  if (!Array.isArray(blocks)) return undefined;
  const list = blocks as Block[];
  const i = list.findIndex((b) => isControlsOf(b, incidentId));
  if (i < 0) return undefined;
  const copy = [...list];
  copy[i] = { type: 'context', block_id: list[i]!.block_id ?? `sentinel-outcome-${i}`, elements: [{ type: 'mrkdwn', text: line }] };
  return copy;
}
