import { defineConfig } from 'vitest/config';

/**
 * `npm run test:bench`: the benchmarks, short (test/bench). Each starts what it measures itself (the
 * pipeline bench a private stack of its own), so there is no shared stack here. CI runs it after the
 * fleet suites.
 */
export default defineConfig({
  test: {
    include: ['test/bench/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
