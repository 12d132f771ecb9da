/**
 * normalize() for the detector's consume loop: the same result and, for a payload it cannot
 * understand, the same MalformedEventError with the same reason, without the per-message set-up
 * (a fresh UTF-8 decoder, splitting and checking the subject). The happy path is inlined here; any
 * failure is handed to normalize() itself, which throws the precise error.
 */
import { normalize, normalizeGeneric, normalizeSlack, type Normalized } from '../events/normalize';

type Json = Record<string, unknown>;
interface SubjectParts {
  source: string;
  team: string | undefined;
}

/** Same rule as normalize(): chat.<source>.<team>.<event_type>, source lowercase. */
const SOURCE = /^[a-z][a-z0-9_-]{0,31}$/;
/** Subjects remembered (one per source, team and event type); forgotten all at once past this. */
const SUBJECTS_KEPT = 4096;

export class EventParser {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly subjects = new Map<string, SubjectParts | null>();

  /** normalize(subject, data), faster: throws MalformedEventError exactly when normalize() would. */
  parse(subject: string, data: Uint8Array): Normalized {
    let doc: unknown;
    try {
      doc = JSON.parse(this.decoder.decode(data));
    } catch {
      return normalize(subject, data);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return normalize(subject, data);
    const parts = this.subject(subject);
    if (parts === null) return normalize(subject, data);
    return parts.source === 'slack' ? normalizeSlack(doc as Json) : normalizeGeneric(parts.source, parts.team, doc as Json);
  }

  private subject(subject: string): SubjectParts | null {
    let parts = this.subjects.get(subject);
    if (parts === undefined) {
      const [, source, team] = subject.split('.');
      parts = source && SOURCE.test(source) ? { source, team } : null;
      if (this.subjects.size >= SUBJECTS_KEPT) this.subjects.clear();
      this.subjects.set(subject, parts);
    }
    return parts;
  }
}
