import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactSecrets } from '../../src/errors/index.js';
import { tagOfDatabase } from '../../src/roles/tenant-role.js';

/** The server the tests run against; `scripts/services.sh` (run by `npm test`) makes sure it is up. */
export const ADMIN_URL = process.env.CGK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Time an afterAll hook that drops databases may take. DROP DATABASE waits for a checkpoint, which on a loaded
 * server (a benchmark writing next door) has been seen to take over 90 s for one database.
 */
export const DROP_TIMEOUT_MS = 300_000;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Runs one statement on the admin connection; fails loudly (never skips) when the server is down. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      redactSecrets(`Test PostgreSQL at ${ADMIN_URL} is unreachable (${(error as Error).message}). Run: npm run services`),
    );
  }
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of its own for one test file, so files can run in parallel. */
export async function createTestDatabase(prefix = 'cgk_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      await adminQuery(`drop database if exists "${name}" with (force)`);
      await dropTenantRolesOf(name);
    },
  };
}

/** Tenant roles are cluster-wide: drop the ones a test database made (they carry its tag, see src/roles/tenant-role.ts). */
export async function dropTenantRolesOf(database: string): Promise<void> {
  const tag = tagOfDatabase(database);
  const { rows } = await adminQuery<{ rolname: string }>(`select rolname from pg_roles where rolname like $1`, [
    `ct\\_${tag}\\_%`,
  ]);
  // Batches: a scale run leaves 10,000 of them.
  for (let i = 0; i < rows.length; i += 500) {
    await adminQuery(
      `drop role if exists ${rows
        .slice(i, i + 500)
        .map((r) => `"${r.rolname}"`)
        .join(', ')}`,
    );
  }
}

/** A scratch database the application reaches as an ordinary role, as in production. */
export interface AppDatabase extends TestDatabase {
  /** The application role: LOGIN CREATEROLE, owner of the database and of its public schema; not a superuser. */
  role: string;
  /** The same database as the superuser `postgres` (for set-up the application may not do). */
  adminUrl: string;
}

/**
 * A fresh database whose URL logs in as its own non-superuser application role (`LOGIN CREATEROLE`, owner of
 * the database and its public schema), the way an application connects to Neon or a managed server. A
 * superuser passes every permission check, so the isolation and permission tests must not connect as one.
 * `drop()` drops the database, its tenant roles and the application role.
 */
export async function createAppDatabase(prefix = 'cgk_app'): Promise<AppDatabase> {
  const scratch = await createTestDatabase(prefix);
  const role = `app_${scratch.name}`;
  try {
    await adminQuery(`create role "${role}" login createrole`);
    await adminQuery(`alter database "${scratch.name}" owner to "${role}"`);
    const client = new pg.Client({ connectionString: scratch.url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(`alter schema public owner to "${role}"`);
    } finally {
      await client.end();
    }
  } catch (error) {
    await scratch.drop().catch(() => {});
    await adminQuery(`drop role if exists "${role}"`).catch(() => {});
    throw error;
  }
  const url = new URL(scratch.url);
  url.username = role;
  return {
    name: scratch.name,
    url: url.toString(),
    adminUrl: scratch.url,
    role,
    async drop() {
      await scratch.drop();
      await adminQuery(`drop role if exists "${role}"`);
    },
  };
}
