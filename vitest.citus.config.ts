import { defineConfig } from 'vitest/config';

// `npm run test:citus`: the tests that need the local Citus cluster (scripts/citus.sh brings it up first).
export default defineConfig({
  test: {
    include: ['packages/*/test/citus/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // One file at a time: the three nodes share the machine's two cores.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
