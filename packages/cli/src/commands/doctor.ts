import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_FAILURE, EXIT_OK, duration, plural } from '../output.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** `doctor`: check the configuration, the database, Redis and the encryption key, and say what to fix. */
export const registerDoctor: Register = (program, ctx, done) => {
  program
    .command('doctor')
    .summary('check the configuration and the services it names')
    .description(
      'Checks DATABASE_URL, the driver choice, the connection and its latency, the server version, pooled ' +
        'vs direct connection, whether tenant roles can be created, pending migrations, Redis (REDIS_URL) and ' +
        'CGK_ENCRYPTION_KEY. Exits 1 if any check fails. Never prints a password.',
    )
    .addHelpText('after', '\nExample:\n  $ npx @cgk/cli doctor')
    .action(async () => {
      // The embedded database is examined by diagnose() itself, so a diagnosis never creates it; a bad
      // configuration is one of the things diagnose() reports, so it is not an error here.
      let db;
      try {
        if (ctx.driverConfig().driver !== 'pglite') db = ctx.database();
      } catch {
        db = undefined;
      }
      const report = await lib().diagnose(db ? { db } : {});
      ctx.out.result({ ...report }, () => {
        const width = Math.max(...report.checks.map((c) => c.name.length));
        const lines = report.checks.flatMap((c) => [
          `${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`,
          ...(c.hint && c.status !== 'ok' ? [`      ${' '.repeat(width)}  hint: ${c.hint}`] : []),
        ]);
        const fails = report.checks.filter((c) => c.status === 'fail').length;
        const warns = report.checks.filter((c) => c.status === 'warn').length;
        const verdict = fails === 0 ? 'No problems found' : `${fails} failed`;
        const warnings = warns ? `, ${plural(warns, 'warning')}` : '';
        lines.push('', `${verdict}${warnings} (${duration(report.durationMs)})`);
        return lines;
      });
      done(report.ok ? EXIT_OK : EXIT_FAILURE);
    });
};
