import { defineConfig } from 'vitest/config';

/** The engine's own tests: no dev stack, seconds to run. `npm run test:rules`. */
export default defineConfig({
  test: {
    include: ['test/rules.test.ts', 'test/detectors.test.ts', 'test/sql-rules.test.ts', 'test/prefilter.test.ts', 'test/excerpt.test.ts', 'test/hot-reload.test.ts', 'test/engine/**/*.test.ts', 'test/correlate/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
