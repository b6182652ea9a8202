import { existsSync } from 'node:fs';
import type { DoctorCheck, DoctorReport } from './types.js';
import { describeCitus } from '../citus/describe.js';
import { citusCheck, citusConnections } from './citus.js';
import { Database } from '../database/database.js';
import { checkLoginMode } from './login.js';
import { tenantRoleModeFromEnv, type TenantRoleMode } from '../roles/mode.js';
import { parsePoolSettings } from '../drivers/pool-settings.js';
import { resolveDriverConfig, type DriverConfig } from '../drivers/driver-config.js';
import { CacheError, ConfigError, redactSecrets } from '../errors/index.js';
import { checkPooling, checkUrl, failure } from './config.js';
import { describeMigrations } from './migrations.js';
import { checkPendingTenants } from './pending.js';
import { checkLeftovers } from './leftovers.js';
import { migrationStatus } from '../migrations/status.js';
import { loadOptional } from '../optional.js';
import { checkEncryptionKeys } from '../secrets/encryption.js';
import { checkTenantStatistics } from './statistics.js';
import { checkEscapeReach } from './security.js';

/**
 * `diagnose()`: what `npx @cgk/cli doctor` prints. Looks at the configuration and the services it names and
 * says, check by check, what is fine, what is odd and what is broken, with a hint for each problem. It never
 * throws for a problem it finds (that is a `fail` check) and never prints a password.
 */

export interface DiagnoseOptions {
  /** The database to examine; default: the one the environment names (opened and closed by `diagnose`). */
  db?: Database;
  /** The environment to read; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Bound on the Redis check, in milliseconds; default 2000. */
  redisTimeoutMs?: number;
}

const MIN_SERVER_MAJOR = 15;

/**
 * Runs every check and returns them in a fixed order: database url, driver, connection, server, citus (only
 * on a Citus coordinator: nodes, tenant placement, the settings tenants need), pooling,
 * tenant roles, migrations, pending pool, redis, encryption key.
 * Checks that need the database are skipped (`warn`, saying why) when it
 * cannot be reached. The embedded database is not created by a diagnosis: if its directory does not exist
 * yet, that is reported instead.
 *
 * @example
 * const report = await diagnose();
 * for (const c of report.checks) console.log(c.status, c.name, c.detail);
 */
export async function diagnose(options: DiagnoseOptions = {}): Promise<DoctorReport> {
  const started = performance.now();
  const env = options.env ?? process.env;
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => {
    checks.push({
      ...check,
      detail: redactSecrets(check.detail),
      ...(check.hint === undefined ? {} : { hint: redactSecrets(check.hint) }),
    });
  };

  add(checkUrl(env, options.db?.config.url));

  let config: DriverConfig | undefined;
  try {
    config = resolveDriverConfig(env);
    add({ name: 'driver', status: 'ok', detail: `${config.driver} (${config.reason})` });
  } catch (error) {
    add(failure('driver', error));
  }

  // The database to examine: the caller's, or one opened from the environment (closed below).
  const target = options.db?.config ?? config;
  let db = options.db;
  const own = !db;
  let reachable = false;
  if (!target) {
    add({ name: 'connection', status: 'warn', detail: 'skipped: no usable driver configuration' });
  } else if (target.driver === 'pglite' && target.dataDir && !existsSync(target.dataDir)) {
    add({
      name: 'connection',
      status: 'warn',
      detail: `the embedded PostgreSQL has not been created yet (${target.dataDir})`,
      hint: 'npx @cgk/cli setup:database creates it (the first start takes a few seconds).',
    });
  } else {
    try {
      db ??= openTarget(target);
      reachable = await checkConnection(db, target, add, rolesOn(options.db, env));
    } catch (error) {
      // A configuration the Database refuses (a malformed URL) is this check's failure too.
      add(failure('connection', error));
    }
  }

  if (target) add(checkPooling(target));
  for (const check of await isolationChecks(options.db, env, target, reachable ? db : undefined)) add(check);

  for (const check of await databaseChecks(reachable ? db : undefined, env)) add(check);

  if (own) await db?.end().catch(() => {});

  add(await checkRedis(env, options.redisTimeoutMs ?? 2000));
  add(checkEncryption(env));

  return { ok: checks.every((c) => c.status !== 'fail'), checks, durationMs: Math.round(performance.now() - started) };
}

/**
 * The checks that read the database: its migrations, the pending pool, what dropped tenants left (leftovers.ts),
 * the tenant statistics (statistics.ts).
 */
async function databaseChecks(db: Database | undefined, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  if (!db) {
    return ['migrations', 'pending pool', 'leftovers'].map((name) => ({
      name,
      status: 'warn' as const,
      detail: 'skipped: the database was not reached',
    }));
  }
  const migrations = await migrationStatus(db).then(describeMigrations, (error: unknown) => failure('migrations', error));
  return [
    migrations,
    await checkPendingTenants(db).catch((error: unknown) => failure('pending pool', error)),
    await checkLeftovers(db, env).catch((error: unknown) => failure('leftovers', error)),
    await checkTenantStatistics(db), // never throws
  ];
}

/** The doctor's own connection: the application role's queries only (the isolation mode is checked apart). */
function openTarget(target: DriverConfig): Database {
  return new Database(
    target.driver === 'pglite'
      ? { driver: 'pglite', dataDir: target.dataDir ?? ':memory:', tenantRoles: 'off' }
      : { url: target.url ?? '', driver: target.driver, tenantRoles: 'off' },
  );
}

/** The isolation mode of the caller's database or the environment; a check that failed when it names none. */
function roleMode(db: Database | undefined, env: NodeJS.ProcessEnv): TenantRoleMode | DoctorCheck {
  try {
    return db?.tenantRoleMode ?? tenantRoleModeFromEnv(env);
  } catch (error) {
    return failure('tenant roles', error);
  }
}

/** The `tenant roles` check, and in login mode the login checks (login.ts). */
async function isolationChecks(
  given: Database | undefined,
  env: NodeJS.ProcessEnv,
  target: DriverConfig | undefined,
  db: Database | undefined,
): Promise<DoctorCheck[]> {
  const mode = roleMode(given, env);
  if (typeof mode !== 'string') return [mode];
  const checks = [await checkTenantRoles(mode, db)];
  if (mode === 'login') checks.push(...(await checkLoginMode(env, target, db)));
  if (db && target?.driver !== 'pglite') checks.push(...(await checkEscapeReach(mode, db, env)));
  return checks;
}

function rolesOn(db: Database | undefined, env: NodeJS.ProcessEnv): boolean {
  const mode = roleMode(db, env);
  return typeof mode === 'string' && mode !== 'off';
}

/**
 * The connection and server checks: times a first query and a round trip, reads the server version; on a
 * Citus coordinator, the cluster too. True when the database answered.
 */
async function checkConnection(
  db: Database,
  target: DriverConfig,
  add: (check: DoctorCheck) => void,
  tenantRoles: boolean,
): Promise<boolean> {
  try {
    const t0 = performance.now();
    await db.sql`select 1`;
    const connectMs = performance.now() - t0;
    const t1 = performance.now();
    const { rows } = await db.sql<{
      server_version: string;
      version: string;
    }>`select current_setting('server_version') as server_version, version() as version`;
    const roundTripMs = performance.now() - t1;
    add({
      name: 'connection',
      status: 'ok',
      detail: `${describeTarget(target)}: first query ${ms(connectMs)} (includes connecting), round trip ${ms(roundTripMs)}`,
    });
    const version = rows[0]?.server_version ?? 'unknown';
    const major = Number.parseInt(version, 10);
    // version() reads "PostgreSQL 15.20 (Debian ...) on x86_64-pc-linux-gnu, compiled by ...": keep it up to the comma.
    const described = rows[0]?.version?.startsWith('PostgreSQL') ? rows[0].version.split(',')[0]! : `PostgreSQL ${version}`;
    add(
      Number.isFinite(major) && major < MIN_SERVER_MAJOR
        ? {
            name: 'server',
            status: 'warn',
            detail: described,
            hint: `The migrations are tested on PostgreSQL ${MIN_SERVER_MAJOR} and newer; upgrade the server.`,
          }
        : { name: 'server', status: 'ok', detail: described },
    );
    await checkCitus(db, tenantRoles, add);
    return true;
  } catch (error) {
    add(failure('connection', error));
    return false;
  }
}

/** On a Citus coordinator only: its nodes, tenant placement and the settings tenants need (citus/describe.ts, citus.ts). */
async function checkCitus(db: Database, tenantRoles: boolean, add: (check: DoctorCheck) => void): Promise<void> {
  try {
    const citus = await describeCitus(db);
    if (citus) add(citusCheck(citus, tenantRoles));
    if (citus) add(await citusConnections(db, citus));
  } catch (error) {
    add(failure('citus', error));
  }
}

const MODE_DETAIL = {
  'set-role':
    "set-role: every tenant scope runs as the tenant's own role (SET LOCAL ROLE), which can reach only its schema" +
    '; SQL in a scope that changes role (RESET ROLE) gets out: see login mode in docs/ISOLATION.md',
  login:
    "login: every tenant scope's connection is logged in as the tenant's own role (a pool per tenant), so SQL in a" +
    ' scope cannot leave the tenant',
};

/** Tenant roles on: creating a tenant creates a role, so the connection's user needs CREATEROLE. */
async function checkTenantRoles(mode: TenantRoleMode, db: Database | undefined): Promise<DoctorCheck> {
  const name = 'tenant roles';
  if (mode === 'off') return { name, status: 'ok', detail: 'off (CGK_TENANT_ROLES=off): isolation by search_path only' };
  const detail = MODE_DETAIL[mode];
  if (!db) return { name, status: 'ok', detail };
  try {
    const { rows } = await db.sql<{
      user: string;
      can: boolean;
    }>`select current_user::text as user, (rolsuper or rolcreaterole) as can from pg_roles where rolname = current_user`;
    const row = rows[0];
    if (row && !row.can) {
      return {
        name,
        status: 'warn',
        detail: `${detail}; but ${row.user} may not create roles, so tenant:create will fail`,
        hint: `Grant it: ALTER ROLE ${row.user} CREATEROLE (Neon's default role has it), or set CGK_TENANT_ROLES=off.`,
      };
    }
    return { name, status: 'ok', detail: `${detail}; ${row?.user ?? 'the current user'} may create roles` };
  } catch (error) {
    return failure(name, error);
  }
}

async function checkRedis(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<DoctorCheck> {
  const name = 'redis';
  const url = env.REDIS_URL?.trim();
  if (!url) return { name, status: 'ok', detail: 'REDIS_URL not set: in-process fallback cache (not shared between processes)' };
  const shown = redactRedis(url);
  let client: import('ioredis').Redis | undefined;
  // ioredis rejects a failed connect() with a bare "Connection is closed."; the reason is in its 'error' event.
  let lastError: Error | undefined;
  try {
    const { Redis } = await loadOptional('ioredis', () => import(/* webpackIgnore: true */ 'ioredis'));
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', (error: Error) => {
      lastError = error;
    });
    const started = performance.now();
    const live = client;
    const pong = await withTimeout(
      (async () => {
        await live.connect();
        return live.ping();
      })(),
      timeoutMs + 500,
      `no answer within ${timeoutMs} ms`,
    );
    return { name, status: 'ok', detail: `${shown}: ${pong} in ${ms(performance.now() - started)}` };
  } catch (error) {
    if (error instanceof ConfigError) return failure(name, error);
    const message = error instanceof Error ? error.message : String(error);
    const reason = lastError && /connection is closed/i.test(message) ? lastError.message : message;
    return failure(
      name,
      new CacheError('unavailable', `Cannot reach Redis at ${shown}: ${reason}`, {
        hint: 'Start Redis or fix REDIS_URL (redis://[:password@]host:6379/0); unset it to use the in-process cache.',
        cause: error,
      }),
    );
  } finally {
    client?.disconnect();
  }
}

function checkEncryption(env: NodeJS.ProcessEnv): DoctorCheck {
  const found = checkEncryptionKeys(env);
  const name = 'encryption key';
  if (found.status === 'ok') return { name, status: 'ok', detail: `CGK_ENCRYPTION_KEY ${found.detail}` };
  if (found.status === 'missing') {
    return {
      name,
      status: 'warn',
      detail: 'CGK_ENCRYPTION_KEY is not set: Shopify access tokens cannot be stored or read',
      ...(found.hint ? { hint: found.hint } : {}),
    };
  }
  return { name, status: 'fail', detail: found.detail, ...(found.hint ? { hint: found.hint } : {}) };
}

function describeTarget(config: DriverConfig): string {
  if (config.driver === 'pglite') return `embedded PostgreSQL at ${config.dataDir ?? '(memory)'}`;
  try {
    return parsePoolSettings(config.url ?? '').redacted.replace(/\?.*$/, '');
  } catch {
    return config.driver;
  }
}

function redactRedis(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return redactSecrets(url);
  }
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
