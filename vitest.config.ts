import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run the sources: `@cgk/db` is packages/db/src, as in tsconfig.base.json's paths (the published
    // package resolves it to dist/).
    alias: [{ find: /^@cgk\/db$/, replacement: fileURLToPath(new URL('./packages/db/src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only make the database and the embedded PostgreSQL fight over them.
    maxWorkers: 2,
  },
});
