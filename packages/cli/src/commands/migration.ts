import { lib } from '../lib.js';
import type { Register } from './register.js';
import { EXIT_OK } from '../output.js';

/** `migration:new`: the next numbered file of the application's own migration set. */
export const registerMigration: Register = (program, ctx, done) => {
  program
    .command('migration:new')
    .argument('<name>', 'what the file does, in lowercase snake_case (e.g. gift_cards)')
    .option('--public', "write it in the application's public set instead of its tenant set")
    .summary("write the next numbered migration file of the application's set")
    .description(
      "Creates NNN_<name>.sql, numbered after the last file, in the application's first tenant migration set " +
        '(or, with --public, its first public set), as configured by cgk.config.json or CGK_TENANT_MIGRATIONS / ' +
        'CGK_PUBLIC_MIGRATIONS. Write the SQL in it, then run migrate. Never overwrites a file.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx @cgk/cli migration:new gift_cards\n  $ npx @cgk/cli migration:new audit_log --public',
    )
    .action(async (name: string, opts: { public?: boolean }) => {
      const file = await lib().createMigrationFile(name, { kind: opts.public ? 'public' : 'tenant' });
      ctx.out.result({ file }, () => [
        `Created ${file.path} (${file.kind} set "${file.set}", version ${file.version})`,
        'Write its SQL, then run: npx @cgk/cli migrate',
      ]);
      done(EXIT_OK);
    });
};
