import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { createContext, type Context } from './context.js';
import { loadEnvFiles } from './env.js';
import { lib, libLoaded, loadLib } from './lib.js';
import { EXIT_OK, Output, type Streams } from './output.js';
import { COMMANDS } from './commands/index.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Builds the `cgk` program. Commands are thin: they parse arguments, call `@cgk/db`, and print.
 * `done(code)` records the command's exit code.
 */
function buildProgram(ctx: Context, done: (code: number) => void, streams: Streams): Command {
  const program = new Command('cgk')
    .description('CGK database command line: set up the database, manage tenants, run migrations.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--json', 'print one JSON document on stdout (for scripts)')
    .option('--verbose', 'print the stack trace of an error')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      // Usage errors are printed by run() as one line; commander's own copy is dropped.
      outputError: () => {},
    })
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL   postgres://user:password@host:5432/db (unset: the embedded PostgreSQL in ./.cgk/pglite)
  .env and .env.local in the working directory are read; real environment variables win.

Examples:
  $ npx @cgk/cli setup:database
  $ npx @cgk/cli tenant:create acme --name "Acme Inc."
  $ npx @cgk/cli doctor`,
    );
  for (const register of COMMANDS) register(program, ctx, done);
  return program;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves to the exit code: 0 success, 1 failure,
 * 2 usage error. Loads `.env` / `.env.local` first and always closes the database before returning.
 *
 * @example
 * process.exitCode = await run(['tenant:create', 'acme']);
 */
export async function run(
  argv: string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  // The flags are needed before commander has parsed anything (to format a usage error, say).
  const flags = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length);
  const out = new Output(flags.includes('--json'), flags.includes('--verbose'), streams);
  let code = EXIT_OK;
  try {
    loadEnvFiles();
    const ctx = createContext(out);
    const program = buildProgram(ctx, (c) => (code = c), streams);
    // @cgk/db is loaded once commander has found a command to run: `--help` and `--version` never load it.
    program.hook('preAction', async () => {
      await loadLib();
    });
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!isHelpOrVersion(error)) await loadLib(); // an error report redacts secrets and names CgkError codes
    if (error instanceof CommanderError) {
      if (isHelpOrVersion(error)) code = EXIT_OK;
      // `help [command]` exits 0; no command at all shows the help on stderr with exitCode 1: a usage error,
      // reported like any other (one line, and with --json one document).
      else if (error.code === 'commander.help') code = error.exitCode === 0 ? EXIT_OK : out.usage('no command given');
      else code = out.usage(error.message);
    } else {
      code = out.error(error);
    }
  } finally {
    try {
      // Nothing can have opened a database if @cgk/db was never loaded.
      if (libLoaded()) {
        await lib().closeDatabase();
        await lib().closeCache(); // tenant:drop removes the tenant's cache keys
      }
    } catch (error) {
      if (code === EXIT_OK) code = out.error(error);
    }
  }
  return code;
}

function isHelpOrVersion(error: unknown): boolean {
  return error instanceof CommanderError && (error.code === 'commander.helpDisplayed' || error.code === 'commander.version');
}
