import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Database, QueryError, setupDatabase } from '../../src/index.js';
import { DEFAULT_TENANT_DIR } from '../../src/migrations/runner.js';
import { tenantRoleName } from '../../src/roles/tenant-role.js';
import { createAppDatabase } from './database.js';

/** The two targets of the lifecycle tests: PostgreSQL as a non-superuser application role, and the embedded database. */
export type LifecycleTarget = 'pg' | 'pglite';

export interface LifecycleFixture {
  db: Database;
  /** Name of the database (tenant role names carry its tag). */
  database: string;
  /** What exists for a slug: registry row (not pending), schema, role. */
  traces(slug: string): Promise<{ org: boolean; schema: boolean; role: boolean }>;
  teardown(): Promise<void>;
}

/** A set-up database with tenant roles on (set-role mode), on `target`. */
export async function openLifecycle(target: LifecycleTarget, prefix: string): Promise<LifecycleFixture> {
  let db: Database;
  let database: string;
  let teardown: () => Promise<void>;
  if (target === 'pglite') {
    db = new Database({ driver: 'pglite', dataDir: ':memory:', tenantRoles: true });
    database = (await db.sql<{ name: string }>`select current_database() as name`).rows[0]!.name;
    teardown = () => db.end();
  } else {
    const app = await createAppDatabase(prefix);
    db = new Database({ url: app.url, tenantRoles: true });
    database = app.name;
    teardown = async () => {
      await db.end();
      await app.drop();
    };
  }
  await setupDatabase({ db });
  const traces = async (slug: string) => {
    const { rows } = await db.sql<{ org: boolean; schema: boolean; role: boolean }>`
      select exists (select 1 from public.organizations where slug = ${slug} and not pending) as org,
             to_regnamespace(${`tenant_${slug}`}) is not null as schema,
             exists (select 1 from pg_roles where rolname = ${tenantRoleName(slug, database)}) as role`;
    return rows[0]!;
  };
  return { db, database, traces, teardown };
}

async function denied(run: Promise<unknown>): Promise<void> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QueryError);
  expect((error as QueryError).sqlState).toBe('42501');
}

/**
 * The role tests (roles.test.ts) for tenant `slug` against tenant `other`: its scopes run as its own role (named
 * after `slug`), work on its tables, and are refused the other's schema, the platform tables, its own migration
 * history and DDL; the other is refused `slug`'s schema.
 */
export async function expectIsolated(f: LifecycleFixture, slug: string, other: string): Promise<void> {
  const who = await f.db.withTenant(slug, (sql) => sql<{ who: string }>`select current_user as who`);
  expect(who.rows[0]!.who).toBe(tenantRoleName(slug, f.database));
  const email = `${slug}@example.com`;
  const rows = await f.db.withTenant(slug, async (sql) => {
    await sql`insert into customers (email) values (${email})`;
    return (await sql<{ email: string }>`select email from customers where email = ${email}`).rows;
  });
  expect(rows).toEqual([{ email }]);
  await f.db.withTenant(slug, (sql) => sql`delete from customers where email = ${email}`);
  for (const [a, b] of [
    [slug, other],
    [other, slug],
  ] as const) {
    await denied(f.db.withTenant(a, (sql) => sql.query(`select * from tenant_${b}.customers`)));
    await denied(f.db.withTenant(a, (sql) => sql.query(`insert into tenant_${b}.customers (email) values ('x@example.com')`)));
    await denied(f.db.withTenant(a, (sql) => sql.query(`delete from tenant_${b}.orders`)));
  }
  await denied(f.db.withTenant(slug, (sql) => sql`select * from public.organizations`));
  await denied(f.db.withTenant(slug, (sql) => sql`select * from schema_migrations`));
  await denied(f.db.withTenant(slug, (sql) => sql`create table scratch_in_scope (id int)`));
  await denied(f.db.withTenant(slug, (sql) => sql`drop table orders`));
}

/** A copy of the platform's tenant migrations plus `extra` files (name → SQL), in a temp directory. */
export async function tenantDirWith(extra: Record<string, string>): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cgk-lifecycle-'));
  await cp(DEFAULT_TENANT_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) await writeFile(join(dir, name), sql);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
