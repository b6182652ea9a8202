import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase, type Sql } from '../src/index.js';
import { type AppDatabase, DROP_TIMEOUT_MS, adminQuery } from './helpers/database.js';
import { loginModeDatabase } from './helpers/login.js';
import { tenantRoleName } from '../src/roles/tenant-role.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

/**
 * Issue #23, items 1-3 and 9 (lastval): what a hostile scope may do to the server before and after it runs.
 * 1. A scope for a slug without a schema never runs its first statement (as the application role or at all).
 * 2. Session advisory locks taken in a scope end with it (commit, rollback, abort).
 * 3. Statements a scope PREPAREs end with it, also for another application process behind PgBouncer.
 * 9. `lastval()` / `currval()` of a scope do not reach the next tenant.
 * Run as a non-superuser application role, directly (one connection, so the next scope surely gets the same
 * one) and through a real PgBouncer in transaction mode (one server connection per user, shared by two
 * `Database`s standing for two application processes), and on the embedded PostgreSQL where it applies.
 */

const SECRET = randomBytes(32).toString('base64');
const APP_PASSWORD = 'app-password-for-pgbouncer';
type Mode = 'off' | 'set-role' | 'login';

let app: AppDatabase;
let bouncer: PgBouncerInstance;
const opened: Database[] = [];

beforeAll(async () => {
  app = await loginModeDatabase('cgk_hostile', {
    secret: SECRET,
    appPassword: APP_PASSWORD,
    slugs: ['a', 'b', 'half', 'gone'],
    seed: async (db) => {
      // A platform sequence anyone may move, so that even a tenant role would move it if it ran the statement.
      await db.sql`create sequence public.probe_seq`;
      await db.sql`grant usage on sequence public.probe_seq to public`;
      await db.sql`create sequence tenant_a.tenant_seq`;
      await db.sql`grant usage, select on sequence tenant_a.tenant_seq to public`;
    },
  });
  // A tenant whose schema an operator dropped by hand: its role (which can log in) is left.
  const admin = new pg.Client({ connectionString: app.adminUrl });
  await admin.connect();
  // A tenant whose role an operator dropped by hand: its schema is left.
  const gone = tenantRoleName('gone', app.name);
  await admin.query('drop schema tenant_half cascade');
  await admin.query(`drop owned by "${gone}"; drop role "${gone}"`).finally(() => admin.end());
  bouncer = await startPgBouncer({ targetUrl: app.url, auth: 'scram-sha-256', defaultPoolSize: 1 });
}, 120_000);

afterAll(async () => {
  await Promise.all(opened.map((db) => db.end()));
  await bouncer?.stop();
  await app?.drop();
}, DROP_TIMEOUT_MS);

const bouncerUrl = () => {
  const url = new URL(bouncer.url);
  url.password = APP_PASSWORD;
  return url.toString();
};

function open(via: 'pg' | 'pgbouncer', mode: Mode): Database {
  const url = via === 'pg' ? `${app.url}?pool_max=1&tenant_pool_max=1` : bouncerUrl();
  const db = new Database({ url, tenantRoles: mode, tenantRoleSecret: SECRET });
  opened.push(db);
  return db;
}

/** What a promise gave: its value, or the error's code and SQLSTATE. */
async function outcome<T>(run: Promise<T>): Promise<T | { code: string; sqlState?: string }> {
  return run.catch((error: { code: string; sqlState?: string }) => ({ code: error.code, sqlState: error.sqlState }));
}

const probeSeq = async (db: Database) =>
  (await db.sql<{ moved: boolean }>`select is_called as moved from public.probe_seq`).rows[0]!.moved;

/** Sessions advisory locks held in the test database, seen by the superuser (any backend). */
const advisoryLocks = async () =>
  (
    await adminQuery<{ n: number }>(
      `select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
       where l.locktype = 'advisory' and d.datname = $1`,
      [app.name],
    )
  ).rows[0]!.n;

const endings: Array<[string, (sql: Sql, act: string) => Promise<unknown>]> = [
  ['commit', async (sql, act) => sql.query(act)],
  [
    'rollback (fn throws)',
    async (sql, act) => {
      await sql.query(act);
      throw new Error('boom');
    },
  ],
  [
    'abort (a failed statement swallowed)',
    async (sql, act) => {
      await sql.query(act);
      await sql`select 1/0`.catch(() => undefined);
    },
  ],
];

const vias: Array<'pg' | 'pgbouncer'> = ['pg', 'pgbouncer'];
const modes: Mode[] = ['set-role', 'off', 'login'];

describe.each(vias.flatMap((via) => modes.map((mode) => [via, mode] as const)))('hostile scopes (%s, %s mode)', (via, mode) => {
  let db: Database;
  let other: Database;
  beforeAll(() => {
    db = open(via, mode);
    // Through PgBouncer, a second application process on the same server connection; directly, the same pool.
    other = via === 'pgbouncer' ? open(via, mode) : db;
  });

  it.each(['ghost', 'half'])('item 1: a scope of "%s" (no schema) never runs its first statement', async (slug) => {
    const result = await outcome(db.withTenant(slug, (sql) => sql`select nextval('public.probe_seq') as v`));
    expect(result).toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
    expect(await probeSeq(db)).toBe(false);
  });

  it.each(endings.map(([name]) => name))('item 2: a session advisory lock taken in a scope ends with it (%s)', async (name) => {
    const end = endings.find(([n]) => n === name)![1];
    await outcome(db.withTenant('a', (sql) => end(sql, "select pg_advisory_lock(hashtext('cgk_migrations:tenant_b'))")));
    expect(await advisoryLocks()).toBe(0);
  });

  it.each(endings.map(([name]) => name))('item 3: a statement PREPAREd in a scope ends with it (%s)', async (name) => {
    const end = endings.find(([n]) => n === name)![1];
    const statement = `p_${name.split(' ')[0]}`;
    await outcome(db.withTenant('a', (sql) => end(sql, `prepare ${statement} as select 'A-PREPARED2' as v`)));
    const seen = await outcome(other.withTenant('a', (sql) => sql.query(`execute ${statement}`)));
    expect(seen).toMatchObject({ code: 'CGK_QUERY', sqlState: '26000' });
  });

  it.each(endings.map(([name]) => name))('item 9: lastval() of a scope does not reach the next (%s)', async (name) => {
    const end = endings.find(([n]) => n === name)![1];
    await outcome(db.withTenant('a', (sql) => end(sql, "select nextval('tenant_a.tenant_seq')")));
    // Tenant b in set-role and off modes (the same connection); tenant a in login mode (b has other connections).
    const next = mode === 'login' ? 'a' : 'b';
    const seen = await outcome(other.withTenant(next, (sql) => sql`select lastval()::text as v`));
    expect(seen).toMatchObject({ code: 'CGK_QUERY', sqlState: '55000' });
  });
});

describe('a tenant whose role was dropped by hand, login mode (#23 item 9)', () => {
  it.each(vias)(
    'is CGK_ROLE with the repair hint, also where the server only says "password authentication failed" (%s)',
    async (via) => {
      const db = open(via, 'login');
      const result = await outcome(db.withTenant('gone', (sql) => sql`select 1`));
      expect(result).toMatchObject({ code: 'CGK_ROLE' });
    },
  );
});

describe.each(['set-role', 'off'] as const)('hostile scopes (embedded PostgreSQL, %s mode)', (mode) => {
  let db: Database;
  beforeAll(async () => {
    db = new Database({ driver: 'pglite', dataDir: ':memory:', tenantRoles: mode });
    await setupDatabase({ db });
    await createTenant({ slug: 'a' }, { db });
    await db.sql`create sequence public.probe_seq`;
    await db.sql`grant usage on sequence public.probe_seq to public`;
  }, 120_000);
  afterAll(async () => db?.end());

  it('item 1: a scope of a slug without a schema never runs its first statement', async () => {
    const result = await outcome(db.withTenant('ghost', (sql) => sql`select nextval('public.probe_seq') as v`));
    expect(result).toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
    expect(await probeSeq(db)).toBe(false);
  });

  it.each(endings.map(([name]) => name))('items 2, 3: locks and prepared statements end with the scope (%s)', async (name) => {
    const end = endings.find(([n]) => n === name)![1];
    await outcome(db.withTenant('a', (sql) => end(sql, 'select pg_advisory_lock(42)')));
    await outcome(db.withTenant('a', (sql) => end(sql, 'prepare p_embedded as select 1')));
    const { rows } = await db.sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory'`;
    expect(rows[0]!.n).toBe(0);
    expect(await outcome(db.sql.query('execute p_embedded'))).toMatchObject({ code: 'CGK_QUERY', sqlState: '26000' });
  });
});
