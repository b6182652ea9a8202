import { existsSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Database, DriverConfig } from '@cgk/db';
import { lib } from './lib.js';
import type { Output } from './output.js';

/** How long the CLI waits for a server that does not answer, when the URL has no `connect_timeout`. */
const CLI_CONNECT_TIMEOUT_SECONDS = 5;

/** What every command gets: where to print, and the database (opened on first use, closed by main). */
export interface Context {
  out: Output;
  /**
   * The database the environment names; prints the embedded-mode note the first time. With `setUp`, for
   * commands that need what setup:database makes: an embedded database that does not exist yet is refused
   * with a `ConfigError` before it is built (building it takes seconds and hundreds of MB just to refuse).
   * With `readOnly`, every transaction of a server database is read-only (PostgreSQL's
   * `default_transaction_read_only`, set at connection start); the embedded one is made so by `readOnlySession`.
   */
  database(options?: { setUp?: boolean; readOnly?: boolean }): Database;
  /** The driver choice from the environment, without opening anything. */
  driverConfig(): DriverConfig;
}

export function createContext(out: Output): Context {
  let db: Database | undefined;
  let config: DriverConfig | undefined;
  const driverConfig = () => (config ??= lib().resolveDriverConfig());
  const context: Context = {
    out,
    driverConfig,
    database(options = {}) {
      if (db) return db;
      const { ConfigError, configureDatabase } = lib();
      const cfg = driverConfig();
      if (cfg.driver === 'pglite') {
        const dir = cfg.dataDir ?? '';
        const fresh = !existsSync(dir);
        if (fresh && options.setUp) {
          throw new ConfigError(
            `The embedded database in ${displayPath(dir)} has not been set up yet`,
            'Run: npx @cgk/cli setup:database',
          );
        }
        const wait = fresh ? ' (creating it: the first start takes a few seconds)' : '';
        out.note(`${cfg.reason}: using the embedded PostgreSQL in ${displayPath(dir)}${wait}`);
        // A command lives seconds: V8's baseline WebAssembly compiler alone starts the embedded PostgreSQL
        // faster and with less memory than also optimising its module in the background (docs/BENCHMARKS.md).
        // Set before PGlite is loaded; the flag is read when the module is compiled.
        setFlagsFromString('--liftoff-only');
        db = configureDatabase({
          driver: 'pglite',
          dataDir: dir,
          onEmbeddedLockWait: (pid) =>
            out.note(`waiting for another cgk process (pid ${pid}) to finish with ${displayPath(dir)} (at most 30 s)`),
        });
      } else {
        if (cfg.driver === 'pg') giveNodeNavigator();
        const url = withDefaultConnectTimeout(cfg.url ?? '');
        db = configureDatabase({ url: options.readOnly ? withReadOnly(url) : url, driver: cfg.driver });
      }
      return db;
    },
  };
  return context;
}

/**
 * Adds `connect_timeout=5` to a connection string that has none, so an unreachable server fails in seconds.
 * A string that does not parse is returned unchanged (the database reports it as a ConfigError).
 */
function withDefaultConnectTimeout(url: string, seconds = CLI_CONNECT_TIMEOUT_SECONDS): string {
  try {
    const parsed = new URL(url);
    if (parsed.searchParams.has('connect_timeout')) return url;
    parsed.searchParams.set('connect_timeout', String(seconds));
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Adds `options=-c default_transaction_read_only=on`: every transaction on these connections is read-only. */
function withReadOnly(url: string): string {
  try {
    const parsed = new URL(url);
    const given = parsed.searchParams.get('options');
    parsed.searchParams.set('options', `${given ? `${given} ` : ''}-c default_transaction_read_only=on`);
    return parsed.toString();
  } catch {
    return url;
  }
}

/** `./.cgk/pglite` for a path under the working directory, the absolute path otherwise. */
function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? path : `./${rel}`;
}

/**
 * `pg` asks, when it loads, whether it runs on Cloudflare Workers: it reads `navigator.userAgent`, and where
 * there is no `navigator` (Node 20; Node 21 added it) it constructs a `Response`, which makes Node load its
 * fetch implementation (undici): ~30 ms of CPU, more than loading `pg` itself, in a command that never fetches.
 * The CLI owns its process, so before `pg` loads it gives it the `navigator` of Node 21 and later.
 */
function giveNodeNavigator(): void {
  if ('navigator' in globalThis) return;
  const userAgent = `Node.js/${process.versions.node.split('.')[0]}`;
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent }, configurable: true, writable: true });
}
