/** Types of bin/launch.js (plain JavaScript, so the `sentinel` command and npm scripts can run it without tsx). */
export declare const components: {
  readonly cli: 'cli/main';
  readonly stack: 'stack/main';
  readonly 'slack-sim': 'slack-sim/main';
  readonly worker: 'worker/main';
  readonly 'worker:kms': 'worker/kms-main';
  readonly detector: 'detector/main';
  readonly correlator: 'correlator/main';
  readonly bridge: 'bridge/main';
  readonly 'codec-server': 'codec-server/main';
  readonly demo: 'demo/main';
};
export declare function resolveComponent(name: string, env?: NodeJS.ProcessEnv): { mode: 'dist' | 'src'; file: string; reason?: string } | { error: string };
export declare function launch(name: string): Promise<void>;
