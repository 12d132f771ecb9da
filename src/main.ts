/** Shared start-up and shutdown handling of the entry points. */
import { ConfigError } from './config';
import { StackError } from './stack/errors';
import { UnreachableError } from './unreachable';
import { NamespaceSetupError } from './temporal/search-attributes';

/** Runs an entry point; known problems print as one clear line and exit 2, anything else exits 1. */
export async function runMain(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StackError || err instanceof UnreachableError || err instanceof NamespaceSetupError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}

/**
 * Calls `stop` once on the first SIGINT or SIGTERM. A second signal at least two seconds later
 * exits at once; one sooner is the same Ctrl-C seen twice (npm forwards it to its child too).
 */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt >= 2000) process.exit(130);
      return;
    }
    firstAt = Date.now();
    void stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
