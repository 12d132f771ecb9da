/** Runs the Slack Web API simulator as its own process (the dev stack starts it this way). */
import { SlackSimulator } from './server';

const port = Number(process.env.SLACK_SIM_PORT ?? 3055);
const host = process.env.SLACK_SIM_HOST ?? '127.0.0.1';
const sim = await new SlackSimulator({ port, host }).start();
process.stdout.write(`slack simulator listening on ${sim.url} (Web API at ${sim.apiUrl})\n`);
const stop = () => void sim.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
