import { CgkError } from '../errors/index.js';
import type { DoctorCheck } from './types.js';
import { parsePoolSettings } from '../drivers/pool-settings.js';
import type { DriverConfig } from '../drivers/driver-config.js';

/** The doctor's configuration checks (the database URL, pooling), and how any check reports a failure. */

/**
 * The URL from the environment; its settings as `inUse` (the caller's database, e.g. the CLI's with its own
 * connect_timeout) has them.
 */
export function checkUrl(env: NodeJS.ProcessEnv, inUse?: string): DoctorCheck {
  const name = 'database url';
  const source = env.DATABASE_URL ? 'DATABASE_URL' : env.POSTGRES_URL ? 'POSTGRES_URL' : undefined;
  if (!source) {
    return {
      name,
      status: 'warn',
      detail: 'DATABASE_URL is not set (nor POSTGRES_URL): the embedded PostgreSQL is used, fine for development only',
      hint:
        'For staging and production set DATABASE_URL to your Neon (or other PostgreSQL) connection string: ' +
        'see docs/setup/DATABASE.md.',
    };
  }
  const url = inUse ?? env[source] ?? '';
  let settings;
  try {
    settings = parsePoolSettings(url);
  } catch (error) {
    return failure(name, error);
  }
  const parts = [`${source}=${settings.redacted}`];
  if (source === 'DATABASE_URL' && env.POSTGRES_URL && env.POSTGRES_URL !== env.DATABASE_URL)
    parts.push('POSTGRES_URL is also set and ignored');
  const statementTimeout = settings.statementTimeoutMs === undefined ? 'none' : `${settings.statementTimeoutMs} ms`;
  const timeouts = `connect_timeout ${settings.connectTimeoutMs / 1000} s, idle_timeout ${settings.idleTimeoutMs / 1000} s`;
  parts.push(`pool_max ${settings.max}, ${timeouts}, statement_timeout ${statementTimeout}`);
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  if (
    !isLocalHost(parsed.hostname) &&
    (sslmode === null || sslmode === 'disable' || sslmode === 'allow' || sslmode === 'prefer')
  ) {
    return {
      name,
      status: 'warn',
      detail: `${parts.join('; ')}; remote host without sslmode=require`,
      hint: 'Add ?sslmode=require for a server on another machine (Neon requires TLS; its connection strings include it).',
    };
  }
  return { name, status: 'ok', detail: parts.join('; ') };
}

/** What the connection string says about pooling, and what that means for this library. */
export function checkPooling(config: DriverConfig): DoctorCheck {
  const name = 'pooling';
  if (config.driver === 'pglite') return { name, status: 'ok', detail: 'embedded: one in-process connection, no pooler' };
  let url: URL;
  try {
    url = new URL(config.url ?? '');
  } catch {
    return { name, status: 'warn', detail: 'skipped: the connection string does not parse' };
  }
  const safe =
    'safe for withTenant() (search_path is set transaction-locally with set_config(..., true)) and for migrations ' +
    '(transaction-level advisory locks; only a "-- cgk:no-transaction" file would need the direct URL)';
  const session = 'session state (SET, LISTEN, session advisory locks) does not survive a transaction';
  if (url.hostname.includes('-pooler.')) {
    return {
      name,
      status: 'ok',
      detail: `pooled (Neon's PgBouncer in transaction mode, host ${url.hostname}): ${safe}; ${session}`,
    };
  }
  if (url.port === '6432') {
    return { name, status: 'ok', detail: `pooled (port 6432: PgBouncer, assumed in transaction mode): ${safe}; ${session}` };
  }
  if (/\.neon\.tech$/i.test(url.hostname)) {
    return {
      name,
      status: 'ok',
      detail: `direct (Neon compute endpoint ${url.hostname}, no pooler): fine for migrations and scripts`,
      hint:
        'For application traffic from many serverless instances, use the pooled connection string (host with -pooler): ' +
        'this library is safe on it.',
    };
  }
  const where = `${url.hostname || 'local socket'}:${url.port || '5432'}`;
  return { name, status: 'ok', detail: `direct (${where}): each pooled client holds a server connection; pool size pool_max` };
}

/** A check that failed: a typed error shows its code and hint. */
export function failure(name: string, error: unknown): DoctorCheck {
  if (error instanceof CgkError)
    return { name, status: 'fail', detail: `${error.code}: ${error.message}`, ...(error.hint ? { hint: error.hint } : {}) };
  return { name, status: 'fail', detail: error instanceof Error ? error.message : String(error) };
}

function isLocalHost(host: string): boolean {
  return (
    host === '' || host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1' || host.startsWith('/')
  );
}
