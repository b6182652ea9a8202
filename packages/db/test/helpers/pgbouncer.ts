import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Database } from '../../src/index.js';
import { type AppDatabase, createAppDatabase } from './database.js';

/**
 * A real PgBouncer in front of a test database, started by a test and stopped by it.
 * `scripts/services.sh` (run by `npm test`) installs the binary; nothing else here is needed but `pg`'s server.
 */
export interface PgBouncerOptions {
  /** The database PgBouncer pools for, e.g. a `createTestDatabase().url`. */
  targetUrl: string;
  /** Default `transaction`: a server connection goes back to the pool at each COMMIT/ROLLBACK. */
  poolMode?: 'transaction' | 'session';
  /** Server connections per (database, user) pool; default 1, so clients visibly share one backend. */
  defaultPoolSize?: number;
  /**
   * `trust` (default): clients are not asked for a password. `scram-sha-256`: clients must log in with SCRAM,
   * checked against the verifier the server stores (`auth_query` on pg_shadow, run as the superuser
   * `postgres`), as a production PgBouncer does; users need not be listed anywhere.
   */
  auth?: 'trust' | 'scram-sha-256';
  /** `max_db_connections`: server connections to the database across all its users; default 0 (no limit). */
  maxDbConnections?: number;
}

export interface PgBouncerInstance {
  /** `postgres://<user>@127.0.0.1:<port>/<dbname>`: the same database as `targetUrl`, through PgBouncer. */
  url: string;
  port: number;
  /** Stops PgBouncer (SIGTERM, then SIGKILL if it lingers) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const MAX_LOG_CHARS = 64 * 1024;
/** PgBouncer refuses to run as root; as root we make it switch to this user (`-u`). */
const UNPRIVILEGED_USER = 'postgres';

function findPgBouncer(): string {
  const candidates = [
    '/usr/sbin/pgbouncer',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'pgbouncer')),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('pgbouncer binary not found (looked in /usr/sbin and on PATH). Run: npm run services');
}

async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

async function acceptsConnections(port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Quotes a value for a libpq-style `key=value` connect string (as in PgBouncer's [databases]). */
function connectValue(value: string): string {
  return /^[A-Za-z0-9_.:\-/]+$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Quotes a name for the left-hand side of a [databases] entry. */
function iniName(name: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerInstance> {
  const binary = findPgBouncer();
  const target = new URL(options.targetUrl);
  const dbName = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const user = decodeURIComponent(target.username) || 'postgres';
  const password = decodeURIComponent(target.password);
  const targetHost = (target.hostname || '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  const targetPort = target.port || '5432';
  const poolMode = options.poolMode ?? 'transaction';
  const poolSize = options.defaultPoolSize ?? 1;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new Error(`defaultPoolSize must be a positive integer, got ${poolSize}`);

  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'cgk-pgbouncer-'));
  // readable by the unprivileged user PgBouncer switches to
  await chmod(dir, 0o755);

  const iniPath = join(dir, 'pgbouncer.ini');
  const userlistPath = join(dir, 'userlist.txt');
  const quoteUserlist = (value: string) => `"${value.replace(/"/g, '""')}"`;
  // With auth_type = trust clients are not asked for a password, but the user must be listed;
  // the password (if the target URL has one) is what PgBouncer itself uses to log in to the server.
  const scram = options.auth === 'scram-sha-256';
  // With scram-sha-256 only the auth_query user (`postgres`, trusted by the test server) is listed: every
  // other user's verifier comes from the server, as a production PgBouncer with auth_query does.
  const userlist = scram ? `${quoteUserlist('postgres')} ""\n` : `${quoteUserlist(user)} ${quoteUserlist(password)}\n`;
  await writeFile(userlistPath, userlist, { mode: 0o644 });

  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const port = await freePort();
    const ini = [
      '[databases]',
      `${iniName(dbName)} = host=${connectValue(targetHost)} port=${targetPort} dbname=${connectValue(dbName)}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // no unix socket: nothing to collide with in /tmp, and nothing to clean up
      'unix_socket_dir =',
      `auth_type = ${scram ? 'scram-sha-256' : 'trust'}`,
      `auth_file = ${userlistPath}`,
      ...(scram ? ['auth_user = postgres'] : []),
      `max_db_connections = ${options.maxDbConnections ?? 0}`,
      `pool_mode = ${poolMode}`,
      `default_pool_size = ${poolSize}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      'max_client_conn = 200',
      'ignore_startup_parameters = extra_float_digits,options',
      // log to stderr (foreground), which we capture for error messages
      'logfile =',
      'pidfile =',
      '',
    ].join('\n');
    await writeFile(iniPath, ini, { mode: 0o644 });

    const args = [...(isRoot ? ['-u', UNPRIVILEGED_USER] : []), iniPath];
    const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const collect = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.length > MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
    });
    // never leave a PgBouncer behind if the test process exits without calling stop()
    const killOnExit = () => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);

    const exited = () => child.exitCode !== null || child.signalCode !== null || spawnError !== undefined;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let ready = false;
    while (!exited() && Date.now() < deadline) {
      if (await acceptsConnections(port)) {
        ready = true;
        break;
      }
      await sleep(50);
    }

    if (ready && !exited()) {
      let stopped: Promise<void> | undefined;
      const stop = (): Promise<void> => {
        stopped ??= (async () => {
          process.off('exit', killOnExit);
          if (!exited()) {
            child.kill('SIGTERM');
            if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
              child.kill('SIGKILL');
              await waitForExit(child, STOP_TIMEOUT_MS);
            }
          }
          await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      };
      const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(dbName)}`;
      return { url, port, stop };
    }

    // failed: clean up this attempt
    process.off('exit', killOnExit);
    if (!exited()) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
    const reason = spawnError
      ? `could not be spawned (${spawnError.message})`
      : exited()
        ? `exited early (code ${child.exitCode ?? 'none'}, signal ${child.signalCode ?? 'none'})`
        : `did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms`;
    lastError = new Error(
      `PgBouncer (${binary} ${args.join(' ')}) ${reason}.\n--- pgbouncer output ---\n${log.trim() || '(none)'}\n--- ${iniPath} ---\n${ini}`,
    );
    // a port taken between freePort() and PgBouncer's bind is worth another try; anything else is not
    if (!/address already in use/i.test(log)) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('PgBouncer did not start');
}

/** A scratch database behind PgBouncer in transaction mode, reached as its non-superuser owner (`pooledDatabase`). */
export interface PooledDatabase {
  /** The database and its application role (`createAppDatabase`). */
  app: AppDatabase;
  /** Straight to the server, for set-up and for looking behind PgBouncer's back. */
  direct: Database;
  /** Through PgBouncer: `defaultPoolSize` server connections shared by every client. */
  pooled: Database;
  bouncer: PgBouncerInstance;
  /** Another PgBouncer (transaction mode) in front of the same database, stopped by `teardown()`. */
  another(defaultPoolSize: number): Promise<{ bouncer: PgBouncerInstance; pooled: Database }>;
  /** Ends the clients, stops every PgBouncer, drops the database and its roles. */
  teardown(): Promise<void>;
}

/**
 * The one PgBouncer fixture of the suites that run scopes through it (behaviour, isolation, ORM): a fresh
 * `createAppDatabase()` (as production connects: a non-superuser owner), PgBouncer in transaction mode in front
 * of it with `defaultPoolSize` (default 2) server connections, and a `Database` each way. The pooled one waits up
 * to 60 s for a connection: hundreds of scopes queue for two server connections, and on a loaded machine a
 * checkout may take longer than the default 10 s `connect_timeout`, which is not what these tests are about.
 * If a step fails, what was started is torn down before the error is thrown.
 */
export async function pooledDatabase(options: { prefix?: string; defaultPoolSize?: number } = {}): Promise<PooledDatabase> {
  const app = await createAppDatabase(options.prefix);
  const clients: Database[] = [];
  const bouncers: PgBouncerInstance[] = [];
  const another = async (defaultPoolSize: number) => {
    const bouncer = await startPgBouncer({ targetUrl: app.url, poolMode: 'transaction', defaultPoolSize });
    bouncers.push(bouncer);
    const pooled = new Database({ url: `${bouncer.url}?connect_timeout=60` });
    clients.push(pooled);
    return { bouncer, pooled };
  };
  const teardown = async () => {
    await Promise.all(clients.map((db) => db.end()));
    await Promise.all(bouncers.map((bouncer) => bouncer.stop()));
    await app.drop();
  };
  try {
    const direct = new Database({ url: app.url });
    clients.push(direct);
    const { bouncer, pooled } = await another(options.defaultPoolSize ?? 2);
    return { app, direct, pooled, bouncer, another, teardown };
  } catch (error) {
    await teardown().catch(() => {});
    throw error;
  }
}
