import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The packaging and Next.js tests (npm run test:packaging, npm run test:next): they pack the workspaces and
// install them into apps outside the repository, so they run on their own, after `npm test`.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    maxWorkers: 1,
  },
});
