import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The tests `npm run test:mutation` (StrykerJS) runs against each mutant: only the fast ones that need no
 * server, for the modules listed in stryker.config.mjs. Not part of `npm test` (see docs/TESTING.md).
 * Resolution (`@cgk/db` to its sources) is the main config's.
 */
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: [
      'packages/db/test/slug.test.ts',
      'packages/db/test/sql-tag.test.ts',
      'packages/db/test/request.test.ts',
      'packages/db/test/migration-files.test.ts',
      'packages/db/test/split-text.test.ts',
      'packages/db/test/secrets.test.ts',
      'packages/cli/test/output.test.ts',
    ],
    testTimeout: 30_000,
  },
});
