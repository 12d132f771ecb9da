/** The `sentinel backfill` command: runs the backfill until done or Ctrl-C (which saves progress), and turns its errors into exit codes. */
import { backfill, BackfillError, type BackfillOptions } from './backfill';

export async function backfillCommand(o: BackfillOptions): Promise<number> {
  const stop = new AbortController();
  const interrupt = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('\nbackfill: stopping after this page (Ctrl-C again to quit at once)\n');
    stop.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    return await backfill({ ...o, signal: stop.signal });
  } catch (err) {
    if (!(err instanceof BackfillError)) throw err;
    process.stderr.write(`sentinel backfill: ${err.message}\n`);
    return err.exitCode;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
