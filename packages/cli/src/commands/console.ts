import { hostname, userInfo } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { lib } from '../lib.js';
import { EXIT_OK } from '../output.js';
import type { Register } from './register.js';

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return port;
}

/** CGK_CONSOLE_SAMPLE_SECONDS: how often activity is sampled (default 60; tests and demos shorten it). */
function sampleInterval(): { sampleIntervalMs?: number } {
  const seconds = Number(process.env.CGK_CONSOLE_SAMPLE_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? { sampleIntervalMs: seconds * 1000 } : {};
}

/** Resolves on the first SIGINT or SIGTERM (Ctrl-C in the terminal running the console). */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `console`: a local web console over the database, until Ctrl-C. */
export const registerConsole: Register = (program, ctx, done) => {
  program
    .command('console')
    .option('--port <port>', 'port to listen on (0: any free port)', portNumber, 4319)
    .option('--host <host>', 'address to listen on; anything but loopback exposes the console to the network', '127.0.0.1')
    .option('--allow-writes', 'allow creating, suspending, activating and migrating tenants (each confirmed and recorded)')
    .summary('a web console over the fleet: tenants, migrations, health, top tenants')
    .description(
      'Starts a local web console over DATABASE_URL (or the embedded database) and prints its address with a ' +
        'one-time access token: every request needs it. Read-only (database transactions included) unless ' +
        '--allow-writes is given; actions then need a confirmation and are recorded in public.operator_actions. ' +
        'Runs until Ctrl-C.',
    )
    .addHelpText('after', '\nExamples:\n  $ npx @cgk/cli console\n  $ npx @cgk/cli console --port 8080 --allow-writes')
    .action(async (opts: { port: number; host: string; allowWrites?: boolean }) => {
      const allowWrites = opts.allowWrites === true;
      const db = ctx.database({ setUp: true, readOnly: !allowWrites });
      const { startConsole } = await import('../console/server.js');
      const { newToken } = await import('../console/auth.js');
      if (ctx.driverConfig().driver === 'pglite' && !allowWrites) await lib().readOnlySession(db);
      const cfg = ctx.driverConfig();
      const running = await startConsole({
        db,
        lib: lib(),
        token: newToken(),
        allowWrites,
        host: opts.host,
        port: opts.port,
        target: cfg.driver === 'pglite' ? `embedded (${cfg.dataDir ?? ''})` : lib().redactSecrets(cfg.url ?? ''),
        actor: `${userInfo().username}@${hostname()} (console)`,
        ...sampleInterval(),
      });
      ctx.out.note(`console ${allowWrites ? 'with writes allowed' : 'read-only'}; Ctrl-C stops it`);
      ctx.out.result({ url: running.url, port: running.port, allowWrites }, () => `Console: ${running.url}`);
      const signal = await untilStopped();
      ctx.out.note(`${signal}: console stopped`);
      await running.close();
      done(EXIT_OK);
    });
};
