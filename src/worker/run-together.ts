/**
 * Runs workers that only make sense together (the remediation worker and its Slack worker): when
 * one stops, for whatever reason, the others are shut down too, and a failure is rethrown so the
 * process exits non-zero instead of half-working (workflows polled, Slack calls never made).
 */
/** What runTogether needs of a Worker (a test can hand in its own). */
export interface WorkerLike {
  run(): Promise<void>;
  shutdown(): void;
  getState(): string;
  options: { taskQueue: string };
}

export async function runTogether(workers: WorkerLike[], onStop?: (taskQueue: string, error: unknown) => void): Promise<void> {
  let firstError: unknown;
  const stopOthers = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  await Promise.all(
    workers.map((w) =>
      w.run().then(
        () => {
          onStop?.(w.options.taskQueue, undefined);
          stopOthers();
        },
        (err: unknown) => {
          firstError ??= err;
          onStop?.(w.options.taskQueue, err);
          stopOthers();
        },
      ),
    ),
  );
  if (firstError !== undefined) throw firstError;
}
