import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // Citus tests need the Citus cluster: npm run test:citus (vitest.citus.config.ts).
    exclude: [...configDefaults.exclude, 'packages/*/test/citus/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database and the embedded PostgreSQL fight over them.
    maxWorkers: 2,
  },
});
