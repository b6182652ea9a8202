import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run test:mutation` (StrykerJS) runs against each mutant: only the fast ones that need no
 * server, for the modules listed in stryker.config.json. Not part of `npm test` (see docs/TESTING.md).
 */
export default defineConfig({
  test: {
    include: [
      'packages/db/test/slug.test.ts',
      'packages/db/test/sql-tag.test.ts',
      'packages/db/test/request.test.ts',
      'packages/db/test/migration-files.test.ts',
      'packages/db/test/secrets.test.ts',
      'packages/cli/test/output.test.ts',
    ],
    testTimeout: 30_000,
  },
});
