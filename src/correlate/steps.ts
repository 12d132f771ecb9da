/** The detector's side of stateful rules: which steps an event satisfies, and the fact it becomes. Pure. */
import type { Category, ChatEvent } from '../engine/types';
import { cancelsByFile, eventTimeOf, factId, keyValues, partitionOf, type Fact, type KeyKind } from './fact';
import type { EventFile, StatefulSet, StepInput } from './model';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

const FILE_ID = /^[A-Za-z0-9._-]{1,64}$/;

function fileOf(f: unknown): EventFile | undefined {
  if (!isObject(f)) return undefined;
  const id = str(f.id);
  // Ids become fact fields, partition keys and parts of incident ids: Slack's alphabet only.
  if (!id || !FILE_ID.test(id)) return undefined;
  const name = str(f.name);
  const title = str(f.title);
  return { id, ...(name ? { name } : {}), ...(title ? { title } : {}) };
}

/**
 * The files an event is about: a message's `files`, an edit's `message.files`, a file event's `file`
 * (looked up through files.info, when the bridge or detector enriched it) or bare `file_id`.
 */
export function eventFiles(event: ChatEvent): EventFile[] {
  const raw = event.raw ?? {};
  const out: EventFile[] = [];
  const seen = new Set<string>();
  const add = (f: EventFile | undefined) => {
    if (f && !seen.has(f.id)) {
      seen.add(f.id);
      out.push(f);
    }
  };
  const message = isObject(raw.message) ? raw.message : raw;
  if (Array.isArray(message.files)) for (const f of message.files) add(fileOf(f));
  if (isObject(raw.file)) add(fileOf(raw.file));
  const fileId = str(raw.file_id);
  if (fileId && FILE_ID.test(fileId)) add({ id: fileId });
  for (const id of event.files ?? []) add({ id });
  return out;
}

const NO_FILES: readonly EventFile[] = [];

/** Whether the event may name a file at all: looked at without building anything. */
function mayHaveFiles(event: ChatEvent): boolean {
  if (event.files?.length) return true;
  const raw = event.raw;
  if (!raw) return false;
  if (raw.files !== undefined || raw.file !== undefined || raw.file_id !== undefined) return true;
  return isObject(raw.message) && raw.message.files !== undefined;
}

/** What step conditions read of one event; its files are read from the raw event only when a condition asks. */
class EventStepInput implements StepInput {
  private eventFiles: readonly EventFile[] | undefined;
  constructor(
    readonly event: ChatEvent,
    readonly findings: readonly { ruleId: string; category: Category }[],
    readonly kmsChannels: ReadonlySet<string>,
  ) {}

  get files(): readonly EventFile[] {
    return (this.eventFiles ??= mayHaveFiles(this.event) ? eventFiles(this.event) : NO_FILES);
  }
}

/** The event time of an event: its Slack ts, else the envelope's event_time. */
function eventTime(event: ChatEvent): number {
  const fromTs = eventTimeOf(event.ts);
  if (fromTs !== undefined) return fromTs;
  const et = event.raw?.event_time ?? event.raw?.event_ts;
  const n = typeof et === 'number' ? et * 1000 : typeof et === 'string' ? (eventTimeOf(et) ?? NaN) : NaN;
  return Number.isFinite(n) ? n : 0;
}

export interface FactContext {
  stateful: StatefulSet;
  /** Channels with a customer-managed KMS key (SENTINEL_CHANNEL_KEYS). */
  kmsChannels: ReadonlySet<string>;
}

/**
 * The fact of an event, or undefined when it satisfies no step of any enabled stateful rule (the
 * common case, decided in a few Set lookups). `findings` are the per-event rules that matched.
 */
export function factOf(event: ChatEvent, findings: readonly { ruleId: string; category: Category }[], c: FactContext): Fact | undefined {
  const rules = c.stateful.active;
  if (rules.length === 0) return undefined;
  // One input per event, its files read only if a condition asks for them.
  const input = new EventStepInput(event, findings, c.kmsChannels);
  let steps: string[] | undefined;
  for (const rule of rules) {
    for (const step of rule.steps) if (step.test(input)) (steps ??= []).push(step.ref);
    if (rule.until?.test(input)) (steps ??= []).push(rule.until.ref);
  }
  if (!steps) return undefined;
  return {
    v: 1,
    id: factId(event),
    source: event.source,
    team: event.team,
    channel: event.channel,
    user: event.user,
    ts: event.ts,
    eventType: event.eventType,
    eventTime: eventTime(event),
    channelKinds: [...(event.channelKinds ?? [])],
    files: input.files.map((f) => f.id),
    findings: [...new Set(findings.map((f) => f.ruleId))],
    steps,
  };
}

/**
 * The partitions a fact goes to: one per distinct partition among the keys of the rules whose
 * steps it satisfies (a rule by file with two files may need two).
 */
export function factPartitions(fact: Fact, stateful: StatefulSet, partitions: number): number[] {
  const byRule = new Map<string, KeyKind>(stateful.active.map((r) => [r.id, r.by]));
  const out = new Set<number>();
  for (const ref of fact.steps) {
    const at = ref.lastIndexOf('#');
    const by = byRule.get(ref.slice(0, at));
    if (!by) continue;
    // A cancel by file for a rule keyed otherwise: the file's sequences may be under any key, in any partition.
    if (ref.slice(at + 1) === '-1' && cancelsByFile(fact, by)) return [...Array(partitions).keys()];
    for (const v of keyValues(fact, by)) out.add(partitionOf(by, v, partitions));
  }
  return [...out].sort((a, b) => a - b);
}
