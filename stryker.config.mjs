// @ts-check
/**
 * Mutation testing (`npm run test:mutation`, not part of `npm test`): StrykerJS changes the code of the modules
 * below one small bug at a time and runs the server-free tests of vitest.mutation.config.ts against each;
 * a mutant no test notices "survives". docs/TESTING.md lists the survivors and why each is accepted.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: [
    'packages/db/src/sql/identifier.ts',
    'packages/db/src/sql/tag.ts',
    'packages/db/src/request/tenant-from-request.ts',
    'packages/db/src/migrations/files.ts',
    'packages/db/src/sql/split.ts',
    'packages/db/src/secrets/encryption.ts',
    'packages/cli/src/output.ts',
  ],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants such as the reserved-slug list) need every test re-run, half the
  // run's time for 7% of the mutants; they are left out of the score and counted as ignored.
  ignoreStatic: true,
  // Two cores.
  concurrency: 2,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: 85 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // Stryker rewrites tsconfig.json's paths in its sandbox with the TypeScript compiler API, which TypeScript 7
  // (the repository's, a native binary) does not offer. Nothing here needs the rewrite (Vitest transpiles each
  // file on its own and the tsconfig extends only a file inside the sandbox), so point it at no file.
  tsconfigFile: 'tsconfig.stryker-skips-this.json',
};
