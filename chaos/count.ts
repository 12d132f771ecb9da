/**
 * The verdict of a chaos run: from what was posted and what every system says happened, one row
 * per check (expected, seen, how many leaks fail it, examples). Pure, so it is unit-tested; the
 * runner collects the observations (collect.ts).
 */

/** An incident the rules say a posted message must open (the rule engine on the delivered event). */
export interface ExpectedIncident {
  id: string;
  ruleId: string;
  actions: string[];
}

/** A message the run posted, with where it landed and what it must cause. */
export interface PostedMessage {
  index: number;
  kind: 'leak' | 'clean';
  leak?: 'secret' | 'confidential' | 'kms';
  user: string;
  channel: string;
  ts: string;
  eventId: string;
  /** The KMS key a kms leak names (its bare key id). */
  kmsKeyId?: string;
  /** When it was posted (ms since the epoch). */
  postedAt?: number;
  expected: ExpectedIncident[];
}

export interface ObservedIncident {
  id: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  status: string;
  /** The SentinelStatus search attribute. */
  sentinelStatus: string | undefined;
}

export interface AuditEntry {
  kind?: string;
  step?: string;
  outcome?: string;
}

export interface Observed {
  /** chat.delete calls the simulator answered ok:true, and when. */
  deletes: { channel: string; ts: string; at?: number }[];
  /** Every incidentWorkflow execution (one per run: a second run of an id is a duplicate). */
  incidents: ObservedIncident[];
  /** Sentinel's posts that carry an idempotency key in their metadata (DMs, security channel). */
  notices: { channel: string; key: string; ts?: string }[];
  /** Successful DisableKey + ScheduleKeyDeletion per key id (through the proxy), and each key's final state in moto. */
  kmsRevocations: Map<string, number>;
  kmsStates: Map<string, string>;
  /** AUDIT records per subject. */
  audit: Map<string, AuditEntry[]>;
  /** The detector consumer on CHAT; undefined when it could not be read. */
  chat: { pending: number; ackPending: number; messages: number } | undefined;
  /** DEADLETTER messages: reason header and the payload. */
  deadletters: { subject: string; reason: string | undefined; body: Uint8Array }[];
  /** Event ids the bridge accepted over either path (HTTP 2xx, Socket Mode ack). */
  accepted: Set<string>;
}

export interface CheckRow {
  check: string;
  expected: string;
  seen: string;
  /** Leaks (or, for rows about other things, items) that fail the check. */
  failing: number;
  examples: string[];
  /** Why each example fails, where the runner could tell (state of the incident, its failed step). */
  notes?: string[];
  /** Reported, but not a loss or duplicate of Sentinel's: does not fail the run. */
  advisory?: boolean;
}

/** The rows that fail the run. */
export const failures = (rows: CheckRow[]) => rows.filter((r) => r.failing > 0 && !r.advisory);

/** How the counts spread: `295×1, 3×0, 2×2` (most common first); a value may be a state, e.g. `1×missing`. */
export function histogram(counts: (number | string)[]): string {
  if (counts.length === 0) return 'none';
  const h = new Map<number | string, number>();
  for (const c of counts) h.set(c, (h.get(c) ?? 0) + 1);
  return [...h.entries()]
    .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
    .map(([value, n]) => `${n}×${value}`)
    .join(', ');
}

/** The AUDIT subject of a workflow id (ARCHITECTURE.md: audit.<id with / replaced by .>). */
export const auditSubjectOf = (id: string) => `audit.${id.replaceAll('/', '.')}`;
/** The notification's idempotency key (README, Incidents: the DM's metadata key). */
export const notifyKeyOf = (id: string) => `${id}#notify`;
export const summaryKeyOf = (id: string) => `${id}#summary`;

const EXAMPLES = 5;

/**
 * Up to EXAMPLES of the failing items, a few of each way they fail (duplicates first: they are the
 * rarer and the worse), so that two duplicates are not hidden behind thirty losses.
 */
export function pickExamples<T>(bad: T[], valueOf: (t: T) => number | string, want: number): T[] {
  const groups = new Map<string, T[]>();
  for (const b of bad) {
    const k = String(valueOf(b));
    groups.set(k, [...(groups.get(k) ?? []), b]);
  }
  const order = [...groups.keys()].sort((a, b) => Number(Number(b) > want) - Number(Number(a) > want));
  const out: T[] = [];
  for (let i = 0; out.length < Math.min(EXAMPLES, bad.length); i++) for (const k of order) if (groups.get(k)![i] !== undefined && out.length < EXAMPLES) out.push(groups.get(k)![i]!);
  return out;
}

/** Compares bodies byte for byte. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function evaluateRun(posted: PostedMessage[], malformed: Uint8Array[], o: Observed, diagnose: (incidentId: string) => string | undefined = () => undefined): CheckRow[] {
  const rows: CheckRow[] = [];
  const leaks = posted.filter((p) => p.expected.length > 0);
  const clean = posted.filter((p) => p.expected.length === 0);
  const label = (p: PostedMessage) => `${p.channel}/${p.ts} (${p.leak ?? p.kind}${p.expected.length ? `: ${p.expected.map((e) => e.ruleId).join('+')}` : ''})`;

  /** One row over messages: `count` per message must equal `want`. */
  const perMessage = (check: string, items: PostedMessage[], want: number, count: (p: PostedMessage) => number, what = `${want} per leak`) => {
    const counts = items.map(count);
    const failing = items.filter((_, i) => counts[i] !== want);
    rows.push({
      check,
      expected: `${what} (${items.length})`,
      seen: histogram(counts),
      failing: failing.length,
      examples: pickExamples(failing, (p) => counts[items.indexOf(p)]!, want).map((p) => `${label(p)} → ${counts[items.indexOf(p)]}`),
    });
  };
  /** One row over incidents: `count` per incident must equal `want`; failing counts leaks. */
  const perIncident = (check: string, filter: (e: ExpectedIncident) => boolean, want: number, count: (e: ExpectedIncident, p: PostedMessage) => number | string, ok?: (v: number | string) => boolean) => {
    const items = leaks.flatMap((p) => p.expected.filter(filter).map((e) => ({ e, p })));
    const values = items.map(({ e, p }) => count(e, p));
    const good = ok ?? ((v) => v === want);
    const bad = items.filter((_, i) => !good(values[i]!));
    const leaksFailing = new Set(bad.map(({ p }) => p.index));
    const shown = pickExamples(bad, (x) => values[items.indexOf(x)]!, want);
    rows.push({
      check,
      expected: `${want} per incident (${items.length})`,
      seen: histogram(values),
      failing: leaksFailing.size,
      examples: shown.map((x) => `${x.e.id} → ${values[items.indexOf(x)]}`),
      notes: shown.map(({ e }) => diagnose(e.id) ?? ''),
    });
  };

  // Ingest: each event reached CHAT through at least one of its two paths.
  perMessage('event accepted by the bridge (HTTP or Socket Mode)', posted, 1, (p) => (o.accepted.has(p.eventId) ? 1 : 0), '1 per message');

  const runs = new Map<string, ObservedIncident[]>();
  for (const i of o.incidents) runs.set(i.id, [...(runs.get(i.id) ?? []), i]);
  perIncident('incident started (workflow executions)', () => true, 1, (e) => runs.get(e.id)?.length ?? 0);
  perIncident(
    'incident resolved',
    () => true,
    1,
    (e) => {
      const r = runs.get(e.id);
      if (!r?.length) return 'missing';
      const last = r[r.length - 1]!;
      return last.status === 'COMPLETED' && last.sentinelStatus === 'resolved' ? 1 : `${last.status.toLowerCase()}/${last.sentinelStatus ?? '?'}`;
    },
  );

  const deletes = new Map<string, number>();
  for (const d of o.deletes) deletes.set(`${d.channel}/${d.ts}`, (deletes.get(`${d.channel}/${d.ts}`) ?? 0) + 1);
  perMessage(
    'message deleted (chat.delete ok:true)',
    leaks.filter((p) => p.expected.some((e) => e.actions.includes('delete'))),
    1,
    (p) => deletes.get(`${p.channel}/${p.ts}`) ?? 0,
  );

  const notices = new Map<string, number>();
  for (const n of o.notices) notices.set(n.key, (notices.get(n.key) ?? 0) + 1);
  perIncident('author notified (DM keyed <id>#notify)', (e) => e.actions.includes('notify'), 1, (e) => notices.get(notifyKeyOf(e.id)) ?? 0);
  perIncident('security summary (keyed <id>#summary)', (e) => !e.actions.includes('none'), 1, (e) => notices.get(summaryKeyOf(e.id)) ?? 0);

  perIncident(
    'KMS key revoked (DisableKey ok, key Disabled)',
    (e) => e.actions.includes('revoke_kms'),
    1,
    (_e, p) => {
      if (!p.kmsKeyId) return 'no key';
      const n = o.kmsRevocations.get(p.kmsKeyId) ?? 0;
      const state = o.kmsStates.get(p.kmsKeyId) ?? 'unknown';
      return state === 'Disabled' || state === 'PendingDeletion' ? n : `${n}/${state}`;
    },
  );

  perIncident('audit trail has open and close decisions', () => true, 1, (e) => {
    const trail = o.audit.get(auditSubjectOf(e.id)) ?? [];
    const opens = trail.filter((r) => r.kind === 'decision' && r.step === 'open').length;
    const closes = trail.filter((r) => r.kind === 'decision' && r.step === 'close').length;
    if (opens === 1 && closes === 1) return 1;
    return `open×${opens} close×${closes}`;
  });

  // Nothing happens to clean messages.
  const expectedIds = new Set(leaks.flatMap((p) => p.expected.map((e) => e.id)));
  const stray = [...new Set(o.incidents.map((i) => i.id))].filter((id) => !expectedIds.has(id));
  rows.push({ check: 'incidents no leak explains', expected: '0', seen: String(stray.length), failing: stray.length, examples: stray.slice(0, EXAMPLES) });
  const cleanDeleted = clean.filter((p) => deletes.has(`${p.channel}/${p.ts}`));
  rows.push({ check: 'clean messages deleted', expected: `0 (of ${clean.length})`, seen: String(cleanDeleted.length), failing: cleanDeleted.length, examples: cleanDeleted.slice(0, EXAMPLES).map(label) });

  const unacked = o.chat ? o.chat.pending + o.chat.ackPending : undefined;
  rows.push({
    check: 'CHAT events left unacked (pending + ack pending)',
    expected: '0',
    seen: o.chat ? `${unacked} (${o.chat.pending} pending, ${o.chat.ackPending} ack pending)` : 'could not read the consumer',
    failing: unacked === undefined ? 1 : unacked,
    examples: [],
  });
  // A work queue removes what was acked; what stays past the ack floor is raw chat kept for good.
  const orphans = o.chat && unacked === 0 ? o.chat.messages : 0;
  rows.push({
    check: 'CHAT messages kept after every ack (raw chat)',
    expected: '0',
    seen: o.chat ? String(o.chat.messages) : '?',
    failing: orphans,
    examples: orphans ? [`${orphans} acked message(s) still stored in the work queue (see the nats-server version in the stack log)`] : [],
    advisory: true,
  });

  const known = o.deadletters.filter((d) => malformed.some((m) => sameBytes(m, d.body)));
  const strayDead = o.deadletters.filter((d) => !malformed.some((m) => sameBytes(m, d.body)));
  const missingDead = malformed.filter((m) => !o.deadletters.some((d) => sameBytes(m, d.body)));
  const noReason = o.deadletters.filter((d) => !d.reason);
  rows.push({
    check: 'dead-letters (only the malformed events sent)',
    expected: String(malformed.length),
    seen: `${o.deadletters.length} (${known.length} of the malformed, ${strayDead.length} others, ${noReason.length} without reason)`,
    failing: Math.abs(o.deadletters.length - malformed.length) + strayDead.length + missingDead.length + noReason.length > 0 ? Math.max(1, strayDead.length + missingDead.length + noReason.length) : 0,
    examples: [...strayDead.slice(0, EXAMPLES).map((d) => `unexpected on ${d.subject}: ${d.reason ?? 'no reason'}`), ...missingDead.slice(0, EXAMPLES).map((m) => `malformed event not dead-lettered (${m.length} bytes)`)],
  });
  return rows;
}

/** Post → successful chat.delete, per deleted leak: the number a DLP tool is judged by. */
export function deleteLatency(posted: PostedMessage[], deletes: Observed['deletes']): { n: number; median: number; p95: number; max: number } | undefined {
  const firstDelete = new Map<string, number>();
  for (const d of deletes) if (d.at !== undefined && !firstDelete.has(`${d.channel}/${d.ts}`)) firstDelete.set(`${d.channel}/${d.ts}`, d.at);
  const ms = posted.flatMap((p) => {
    const at = firstDelete.get(`${p.channel}/${p.ts}`);
    return at !== undefined && p.postedAt !== undefined ? [at - p.postedAt] : [];
  });
  if (ms.length === 0) return undefined;
  ms.sort((a, b) => a - b);
  const q = (f: number) => ms[Math.min(ms.length - 1, Math.floor(f * ms.length))]!;
  return { n: ms.length, median: q(0.5), p95: q(0.95), max: ms[ms.length - 1]! };
}

/** The table, as printed: one line per check, failing ones marked, examples under them. */
export function formatTable(rows: CheckRow[]): string {
  const head = ['', 'check', 'expected', 'seen', 'leaks failing'];
  const body = rows.map((r) => [r.failing ? (r.advisory ? '!' : '✗') : '✓', r.check, r.expected, r.seen, String(r.failing)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '─'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    out.push(line(body[i]!));
    r.examples.forEach((e, j) => out.push(`      e.g. ${e}${r.notes?.[j] ? `\n           ${r.notes[j]}` : ''}`));
  });
  return out.join('\n');
}
