import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run the sources: `@cgk/db` is packages/db/src, as in tsconfig.base.json's paths (the published
    // package resolves it to dist/).
    alias: [
      { find: /^@cgk\/db$/, replacement: fileURLToPath(new URL('./packages/db/src/index.ts', import.meta.url)) },
      {
        find: /^@cgk\/db\/(drizzle|kysely)$/,
        replacement: fileURLToPath(new URL('./packages/db/src/orm/$1.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tooling/test/**/*.test.ts'],
    // Citus tests need the Citus cluster: npm run test:citus (vitest.citus.config.ts).
    exclude: [...configDefaults.exclude, 'packages/*/test/citus/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database and the embedded PostgreSQL fight over them.
    maxWorkers: 2,
  },
});
