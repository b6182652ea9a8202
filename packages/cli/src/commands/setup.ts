import { setupDatabase } from '@cgk/db';
import type { Register } from '../main.js';
import { EXIT_OK, duration, plural } from '../output.js';

/** `setup:database`: check the configuration, connect, run the public migrations, verify. */
export const registerSetup: Register = (program, ctx, done) => {
  program
    .command('setup:database')
    .summary('create or update the platform tables (public schema)')
    .description('Checks DATABASE_URL, connects, applies the pending public-schema migrations and verifies the tables. Safe to run again: it only applies what is missing.')
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli setup:database')
    .action(async () => {
      const db = ctx.database();
      // The CLI opens the database itself (to bound connect_timeout); the reason is the environment's.
      const report = { ...(await setupDatabase({ db })), reason: ctx.driverConfig().reason };
      ctx.out.result(report, () => [
        `Database ready: ${report.driver} (${report.reason})`,
        `  target:     ${report.target}`,
        `  server:     PostgreSQL ${report.serverVersion}`,
        `  migrations: ${report.applied.length === 0 ? `up to date (${report.alreadyApplied} applied before)` : `applied ${plural(report.applied.length, 'migration')}: ${report.applied.join(', ')}${report.alreadyApplied ? ` (${report.alreadyApplied} applied before)` : ''}`}`,
        `  tables:     ${report.tables.join(', ')}`,
        `  took ${duration(report.durationMs)}`,
        '',
        'Next: npx @cgk/cli tenant:create <slug>',
      ]);
      done(EXIT_OK);
    });
};
