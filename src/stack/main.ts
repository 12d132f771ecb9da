/** `npm run stack -- up|down|status`. */
import { stackCommand } from './commands';

process.exit(await stackCommand(process.argv[2]));
