import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './net.js';

const run = promisify(execFile);

/**
 * A PostgreSQL server of its own, started by a test with `pg_stat_statements` preloaded (which the shared test
 * server is not, and which only a restart can change), and stopped by it: initdb into a temp directory, then
 * `pg_ctl start` on a free loopback port. The binaries are Debian's postgresql-15 (installed by
 * scripts/services.sh); as root they run as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export interface StatementsServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, trust authentication. */
  url: string;
  /** Stops the server (pg_ctl stop -m fast: its own postmaster, by its data directory) and removes its files. */
  stop(): Promise<void>;
}

const BIN = process.env.CGK_PG_BIN ?? '/usr/lib/postgresql/15/bin';

async function asServerUser(command: string[]): Promise<void> {
  const root = process.getuid?.() === 0;
  const quoted = command.map((c) => `'${c.replace(/'/g, `'\\''`)}'`).join(' ');
  await (root ? run('su', ['postgres', '-c', quoted]) : run(command[0]!, command.slice(1)));
}

/** Starts the server (a few seconds: initdb, then start); the caller stops it. Fails loudly without the binaries. */
export async function startStatementsServer(): Promise<StatementsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cgk-pss-'));
  await chmod(dir, 0o777);
  const data = join(dir, 'data');
  const port = await closedPort();
  const log = join(dir, 'server.log');
  try {
    await asServerUser([join(BIN, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c fsync=off`;
    await asServerUser([join(BIN, 'pg_ctl'), '-D', data, '-o', options, '-l', log, '-w', '-t', '60', 'start']);
  } catch (error) {
    const text = await readFile(log, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Could not start a PostgreSQL with pg_stat_statements from ${BIN}: ${(error as Error).message}\n${text}`);
  }
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await asServerUser([join(BIN, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
