/** Shared start-up and shutdown handling of the entry points. */
import { ConfigError } from './config';
import { StackError } from './stack/errors';
import { UnreachableError } from './temporal/client';

/** Runs an entry point; known problems print as one clear line and exit 2, anything else exits 1. */
export async function runMain(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StackError || err instanceof UnreachableError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}

/** Calls `stop` once on the first SIGINT or SIGTERM; a second signal exits at once. */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    void stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
