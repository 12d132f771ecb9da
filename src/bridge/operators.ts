/**
 * Who may steer incidents from Slack: SENTINEL_OPERATORS, Slack user ids (U…, W…) and user-group
 * ids (S…). A group's members are read with usergroups.users.list
 * (https://api.slack.com/methods/usergroups.users.list, scope usergroups:read) and kept for a short
 * while, so that a burst of clicks costs one call and a removal from the group takes effect soon.
 * When Slack cannot say who is in a group, its members are refused (fail closed).
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../log';

/** How long a group's members are kept; default 60 s. */
export const GROUP_CACHE_MS = 60_000;

export type OperatorVerdict = { ok: true; via: string } | { ok: false; reason: string };

/** SENTINEL_OPERATORS as user ids and group ids; throws naming the entry that is neither. */
export function parseOperators(v: string): { users: Set<string>; groups: string[] } {
  const users = new Set<string>();
  const groups: string[] = [];
  for (const raw of v.split(',')) {
    const id = raw.trim();
    if (!id) continue;
    if (/^[UW][A-Z0-9]{2,}$/.test(id)) users.add(id);
    else if (/^S[A-Z0-9]{2,}$/.test(id)) groups.push(id);
    else throw new Error(`${JSON.stringify(id)} is neither a Slack user id (U…, W…) nor a user-group id (S…)`);
  }
  return { users, groups };
}

export interface OperatorsOptions {
  /** SENTINEL_OPERATORS, parsed (parseOperators). */
  users: ReadonlySet<string>;
  groups: readonly string[];
  /** The bot's client, for usergroups.users.list; without it, groups cannot be read (their members are refused). */
  slack: WebClient | undefined;
  log: Logger;
  cacheMs?: number;
  now?: () => number;
}

export class Operators {
  private readonly cache = new Map<string, { members: Set<string>; at: number }>();

  constructor(private readonly o: OperatorsOptions) {}

  /** Whether anyone at all may act (SENTINEL_OPERATORS names someone). */
  get configured(): boolean {
    return this.o.users.size > 0 || this.o.groups.length > 0;
  }

  /** Whether `user` may act, and through which entry; or why not. */
  async check(user: string): Promise<OperatorVerdict> {
    if (!this.configured) return { ok: false, reason: 'no operators are configured on the bridge (SENTINEL_OPERATORS)' };
    if (this.o.users.has(user)) return { ok: true, via: user };
    const unreadable: string[] = [];
    for (const group of this.o.groups) {
      const members = await this.members(group);
      if (members === undefined) unreadable.push(group);
      else if (members.has(user)) return { ok: true, via: group };
    }
    if (unreadable.length) return { ok: false, reason: `not listed in SENTINEL_OPERATORS, and the members of ${unreadable.join(', ')} could not be read from Slack` };
    return { ok: false, reason: 'not listed in SENTINEL_OPERATORS, directly or through a user group' };
  }

  /** A group's members, fresh or cached; undefined when Slack could not be asked and nothing is cached. */
  private async members(group: string): Promise<Set<string> | undefined> {
    const now = (this.o.now ?? Date.now)();
    const cached = this.cache.get(group);
    if (cached && now - cached.at < (this.o.cacheMs ?? GROUP_CACHE_MS)) return cached.members;
    if (!this.o.slack) {
      this.o.log.warn('SENTINEL_OPERATORS names a user group but the bridge has no SLACK_BOT_TOKEN to read it; its members are refused', { group });
      return undefined;
    }
    try {
      const r = await this.o.slack.usergroups.users.list({ usergroup: group });
      const members = new Set(r.users ?? []);
      this.cache.set(group, { members, at: now });
      return members;
    } catch (err) {
      // Fail closed: a group that cannot be read grants nothing (an earlier answer is not stretched past its time).
      this.o.log.warn('could not read a user group of SENTINEL_OPERATORS; its members are refused until it can be read', { group, error: err });
      return undefined;
    }
  }
}
