/** The rate limits the dev stack's simulator enforces per Web API method, and how to apply a spec of them. */
import { parseSlackBudgets } from '../../contract';
import type { SlackSimulator } from './server';

/** 50 calls per second per method: a fast workspace, so that a dev burst is quick yet still limited. */
export const SIM_DEV_RATE_LIMITS = ['chat.delete', 'chat.update', 'chat.postMessage', 'chat.postEphemeral', 'conversations.open', 'conversations.history', 'conversations.replies', 'conversations.list', 'files.info', 'conversations.info', 'users.info']
  .map((m) => `${m}=50/s`)
  .join(',');

/** Makes the simulator answer 429 past `spec` (method=N/s pairs, as SLACK_RATE_LIMITS). */
export function applyRateLimits(sim: Pick<SlackSimulator, 'rateLimit'>, spec: string): void {
  for (const [method, perSecond] of Object.entries(parseSlackBudgets(spec))) sim.rateLimit(method, perSecond);
}
