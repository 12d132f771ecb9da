import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fleet suites start clusters, whole fleets and a browser of their own: npm run test:fleet (vitest.fleet.config.ts).
    // The benchmarks, short, start stacks of their own: npm run test:bench (vitest.bench.config.ts).
    exclude: ['**/node_modules/**', 'test/e2e/fleet*.test.ts', 'test/browser*.test.ts', 'test/bench/**'],
    // One private dev stack (Temporal, NATS, moto) for the whole run, on free ports.
    globalSetup: ['test/support/global-setup.ts'],
    // End-to-end suites share the stack's CHAT stream: run files one at a time (2 cores anyway).
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
