import { defineConfig } from 'vitest/config';

/**
 * `npm run test:fleet`: the slow fleet suites, each starting servers and processes of its own —
 * the NATS cluster failover (test/e2e/fleet-nats) and the local fleet (test/e2e/fleet-up) — plus
 * any browser suite (test/browser*). CI runs it after `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/fleet*.test.ts', 'test/browser*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
