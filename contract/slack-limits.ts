/**
 * Slack's rate limits per Web API method, as Sentinel budgets them. Slack limits each method per
 * workspace in tiers (Tier 2 ≈ 20/min, Tier 3 ≈ 50/min, Tier 4 ≈ 100/min) and chat.postMessage to
 * about one message per second per channel: https://api.slack.com/apis/rate-limits and each method's
 * page (chat.delete, chat.update, conversations.open, conversations.history: Tier 3; users.info, chat.postEphemeral:
 * Tier 4). The defaults below are those published figures; the dev stack's simulator is faster.
 */

/** Calls per second Sentinel allows itself per method, unless configured otherwise. */
export const SLACK_DEFAULT_BUDGETS: Readonly<Record<string, number>> = {
  'chat.delete': 50 / 60,
  'chat.update': 50 / 60,
  'chat.postMessage': 60 / 60,
  'chat.postEphemeral': 100 / 60,
  'conversations.open': 50 / 60,
  'conversations.history': 50 / 60,
  'users.info': 100 / 60,
};

/**
 * Parses `method=N/s` or `method=N/min` pairs, comma separated (`*` sets every method not named).
 * Throws with the offending pair when one does not parse.
 */
export function parseSlackBudgets(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-zA-Z.*]+)=(\d+(?:\.\d+)?)\/(s|sec|second|m|min|minute)$/.exec(pair);
    if (!m || Number(m[2]) <= 0) throw new Error(`"${pair}" is not method=N/s or method=N/min (e.g. chat.delete=50/min)`);
    out[m[1]!] = Number(m[2]) / (m[3]!.startsWith('s') ? 1 : 60);
  }
  return out;
}

/** The budget of `method` in calls per second: configured, else `*`, else Slack's published default, else Tier 3. */
export function budgetOf(budgets: Readonly<Record<string, number>>, method: string): number {
  return budgets[method] ?? budgets['*'] ?? SLACK_DEFAULT_BUDGETS[method] ?? 50 / 60;
}
