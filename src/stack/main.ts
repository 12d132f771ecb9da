/** `npm run stack -- up [--nats-cluster]|down|status`. */
import { stackCommand } from './commands';

process.exit(await stackCommand(process.argv[2], process.argv.slice(3)));
