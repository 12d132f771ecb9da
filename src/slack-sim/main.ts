/** Runs the Slack Web API simulator as its own process (the dev stack starts it this way). */
import { applyRateLimits } from './dev-limits';
import { SlackSimulator } from './server';

const port = Number(process.env.SLACK_SIM_PORT ?? 3055);
const host = process.env.SLACK_SIM_HOST ?? '127.0.0.1';
const sim = await new SlackSimulator({ port, host }).start();
// Slack-like per-method limits (method=N/s, comma separated); the dev stack sets SIM_DEV_RATE_LIMITS.
const limits = process.env.SLACK_SIM_RATE_LIMITS;
if (limits) applyRateLimits(sim, limits);
process.stdout.write(`slack simulator listening on ${sim.url} (Web API at ${sim.apiUrl})${limits ? `, rate limits ${limits}` : ''}\n`);
const stop = () => void sim.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
