import type { CitusReport } from '@cgk/db';
import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK, duration, plural } from '../output.js';

/** `setup:database`: check the configuration, connect, run the public migrations, verify. */
export const registerSetup: Register = (program, ctx, done) => {
  program
    .command('setup:database')
    .summary('create or update the platform tables (public schema)')
    .description(
      'Checks DATABASE_URL, connects, applies the pending public-schema migrations and verifies the tables. ' +
        'Safe to run again: it only applies what is missing.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli setup:database')
    .action(async () => {
      const db = ctx.database();
      // The CLI opens the database itself (to bound connect_timeout); the reason is the environment's.
      const report = { ...(await lib().setupDatabase({ db })), reason: ctx.driverConfig().reason };
      const before = report.alreadyApplied ? ` (${report.alreadyApplied} applied before)` : '';
      const migrations =
        report.applied.length === 0
          ? `up to date (${report.alreadyApplied} applied before)`
          : `applied ${plural(report.applied.length, 'migration')}: ${report.applied.join(', ')}${before}`;
      ctx.out.result(report, () => [
        `Database ready: ${report.driver} (${report.reason})`,
        `  target:     ${report.target}`,
        `  server:     PostgreSQL ${report.serverVersion}`,
        `  migrations: ${migrations}`,
        `  tables:     ${report.tables.join(', ')}`,
        ...citusLines(report.citus),
        `  took ${duration(report.durationMs)}`,
        '',
        'Next: npx @cgk/cli tenant:create <slug>',
      ]);
      done(EXIT_OK);
    });
};

const WARNING = '  warning:    ';

function citusLines(citus: CitusReport | undefined): string[] {
  if (!citus) return [];
  const nodes = citus.nodes.map((n) => `${n.host}:${n.port} (${n.tenants} tenants)`).join(', ') || 'none registered';
  const warnings = [
    ...(citus.schemaBasedSharding ? [] : [`${WARNING}citus.enable_schema_based_sharding off: tenants stay on the coordinator`]),
    ...(citus.unsafeTriggers ? [] : [`${WARNING}citus.enable_unsafe_triggers off: tenant:create fails on updated_at triggers`]),
  ];
  return [`  citus:      ${citus.version}; nodes for tenants: ${nodes}; platform tables local on the coordinator`, ...warnings];
}
