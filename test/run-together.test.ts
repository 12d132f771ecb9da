/** Workers that only work together stop together: one failing stops the other and the error surfaces. */
import { describe, expect, it } from 'vitest';
import { runTogether, type WorkerLike } from '../src/worker/run-together';

/** A worker that runs until shut down, or fails when told to. */
function fakeWorker(taskQueue: string) {
  let state = 'RUNNING';
  let finish!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const w: WorkerLike & { fail(err: Error): void } = {
    options: { taskQueue },
    getState: () => state,
    run: () => done,
    shutdown() {
      state = 'STOPPED';
      finish();
    },
    fail(err) {
      state = 'FAILED';
      finish(err);
    },
  };
  return w;
}

describe('runTogether', () => {
  it('stops the Slack worker when the remediation worker fails, and rethrows', async () => {
    const main = fakeWorker('sentinel');
    const slack = fakeWorker('sentinel-slack');
    const stops: string[] = [];
    const running = runTogether([main, slack], (q, err) => stops.push(`${q}:${err ? 'failed' : 'stopped'}`));
    main.fail(new Error('lost the connection for good'));
    await expect(running).rejects.toThrow('lost the connection for good');
    expect(slack.getState()).toBe('STOPPED');
    expect(stops).toEqual(['sentinel:failed', 'sentinel-slack:stopped']);
  });

  it('stops the others when one stops on its own, without an error', async () => {
    const main = fakeWorker('sentinel');
    const slack = fakeWorker('sentinel-slack');
    const running = runTogether([main, slack]);
    slack.shutdown();
    await expect(running).resolves.toBeUndefined();
    expect(main.getState()).toBe('STOPPED');
  });
});
