import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  type Database,
  diagnose,
  migratePublic,
  migrateTenants,
  migrationStatus,
  setupDatabase,
  type MigrationSets,
} from '../src/index.js';
import { clearMigrationCache } from '../src/migrations/files.js';
import { pgFixture, pgliteFixture, type DriverFixture, type DriverSetup } from './helpers/drivers.js';
import { countedSource, fixtureDirs } from './helpers/migrations.js';

/**
 * The application's own migration sets beside the platform's (issue #25): a public set that enables
 * extensions in the `extensions` schema, a tenant set whose `users` table shares its name with a platform
 * table and whose files use extension functions, types and operators; applied after the platform's, tracked
 * apart (the app's 001 never collides with the platform's 001), one fleet query when nothing is pending.
 */

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

/** The application's public set: the extensions tenant SQL may use, in their own schema. */
const APP_PUBLIC = {
  '001_extensions.sql': `-- the extensions tenant tables use, in the schema every migration and scope has on its path
create schema if not exists extensions;
grant usage on schema extensions to public;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists citext with schema extensions;
create extension if not exists pg_trgm with schema extensions;
create extension if not exists pgcrypto with schema extensions;
`,
};

/** The application's tenant set: a table named like a platform one, and one using extensions. */
const APP_TENANT = {
  '001_users.sql': `-- the app's own users, per tenant (public.users is the platform's)
create table users (id uuid primary key default gen_random_uuid(), email text not null);
`,
  '002_notes.sql': `-- notes: uuid-ossp keys, case-insensitive titles, a trigram index
create table notes (
  id uuid primary key default uuid_generate_v4(),
  title citext not null,
  -- pgcrypto's digest() is not used here: on the embedded PostgreSQL its OpenSSL digests failed now and then
  -- ("Cipher cannot be initialized"); the guide says so
  secret text not null default md5('x')
);
create index notes_title_trgm_idx on notes using gin (title gin_trgm_ops);
`,
};

const THIRD = { '003_user_names.sql': '-- a name for users\nalter table users add column name text;\n' };

function setsScenario(fixture: DriverFixture) {
  describe(`application migration sets on ${fixture.name}`, () => {
    let setup: DriverSetup;
    let db: Database;
    const publicDir = fixtures.dir(APP_PUBLIC);
    const tenantDir = fixtures.dir(APP_TENANT);
    const sets: MigrationSets = { public: [{ name: 'app', dir: publicDir }], tenant: [{ name: 'app', dir: tenantDir }] };
    const rows = async (text: string) => (await db.query({ text })).rows;
    const withThird = fixtures.dir({ ...APP_TENANT, ...THIRD });

    beforeAll(async () => {
      setup = await fixture.setup();
      db = setup.db;
    });
    afterAll(async () => setup?.teardown());

    it('applies the app public set after the platform, with its own versions and tracking', async () => {
      await setupDatabase({ db });
      const run = await migratePublic(db, { sets });
      expect(run.error).toBeUndefined();
      expect(run.results.filter((r) => r.status === 'Success').map((r) => [r.set, r.filename])).toEqual([
        ['app', '001_extensions.sql'],
      ]);
      expect(await rows('select migration_set, version from public.schema_migrations where version = 1 order by 1')).toEqual([
        { migration_set: 'app', version: 1 },
        { migration_set: 'platform', version: 1 },
      ]);
    });

    it('creates tenants with every set, and a tenant made before the set exists gets it on the next migrate', async () => {
      const early = await createTenant({ slug: 'early' }, { db, sets: { tenant: [] } });
      expect(early.migrationsApplied).toBe(13);
      for (const slug of ['a', 'b']) expect((await createTenant({ slug }, { db, sets })).migrationsApplied).toBe(15);
      const fleet = await migrateTenants(db, { sets });
      expect(fleet.error).toBeUndefined();
      expect(fleet.tenants.map((t) => [t.slug, t.applied])).toEqual([['early', ['app/001_users.sql', 'app/002_notes.sql']]]);
      for (const schema of ['tenant_a', 'tenant_b', 'tenant_early']) {
        expect(
          await rows(`select migration_set, count(*)::int as n from ${schema}.schema_migrations group by 1 order by 1`),
        ).toEqual([
          { migration_set: 'app', n: 2 },
          { migration_set: 'platform', n: 13 },
        ]);
      }
    });

    it('a third app file reaches every tenant once; status and doctor say up to date', async () => {
      const later: MigrationSets = { ...sets, tenant: [{ name: 'app', dir: withThird }] };
      const run = await migrateTenants(db, { sets: later });
      expect(run.failed).toEqual([]);
      expect(run.tenants.map((t) => t.applied)).toEqual(Array(3).fill(['app/003_user_names.sql']));
      const counted = await rows(
        `select (select count(*) from tenant_a.schema_migrations where migration_set = 'app')::int as a,
                (select count(*) from tenant_b.schema_migrations where migration_set = 'app')::int as b,
                (select count(*) from tenant_early.schema_migrations where migration_set = 'app')::int as early`,
      );
      expect(counted).toEqual([{ a: 3, b: 3, early: 3 }]);
      const status = await migrationStatus(db, { sets: later });
      expect(status.publicSets.map((s) => [s.set, s.upToDate])).toEqual([['app', true]]);
      expect(status.tenants).toMatchObject({
        total: 3,
        upToDate: 3,
        pending: 0,
        sets: [{ set: 'platform' }, { set: 'app', latest: 3 }],
      });
      // The same status with the set one file behind: every tenant pending, on the app set.
      const behind = await migrationStatus(db, {
        sets: { ...sets, tenant: [{ name: 'app', dir: fixtures.dir(THIRD_ONLY_PLUS) }] },
      });
      expect(behind.tenants.tenants.map((t) => [t.set, t.reason])).toEqual(Array(3).fill(['app', 'changed']));
      // The one-query no-op, with two sets.
      const { source, counter } = await countedSource(db);
      await migrateTenants(source, { sets: later });
      counter.reset();
      const noop = await migrateTenants(source, { sets: later });
      expect([noop.total, noop.pending]).toEqual([3, 0]);
      expect(counter.statements).toBe(1);
    });

    it("a scope reads the tenant's own users and uses extension functions, types and operators", async () => {
      await db.withTenant('a', (sql) => sql`insert into users (email, name) values ('ann@a.test', 'Ann')`);
      await db.withTenant('a', (sql) => sql`insert into notes (title) values ('Hello World')`);
      const seen = await db.withTenant('a', async (sql) => ({
        users: (await sql`select email from users`).rows,
        // citext's = (case-insensitive) and pg_trgm's % resolve through the scope's path.
        notes: (await sql`select count(*)::int as n from notes where title = 'HELLO WORLD' and title % 'hello wrld'`).rows,
        uuid: (await sql`select uuid_generate_v4()::text as u`).rows,
      }));
      expect(seen.users).toEqual([{ email: 'ann@a.test' }]);
      expect(seen.notes).toEqual([{ n: 1 }]);
      expect(String(seen.uuid[0]!.u)).toMatch(/^[0-9a-f-]{36}$/);
      expect(await db.withTenant('b', (sql) => sql`select count(*)::int as n from users`)).toMatchObject({ rows: [{ n: 0 }] });
      // The doctor reads the configured sets: here the environment variables, as a script or CI would set them.
      const env = { ...process.env, CGK_PUBLIC_MIGRATIONS: `app=${publicDir}`, CGK_TENANT_MIGRATIONS: `app=${withThird}` };
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const doctor = await diagnose({ db, env });
        expect(doctor.checks.find((c) => c.name === 'migrations')).toMatchObject({ status: 'ok' });
        expect(doctor.checks.find((c) => c.name === 'migrations')?.detail).toMatch(/with the application's 2 sets/);
      } finally {
        for (const key of ['CGK_PUBLIC_MIGRATIONS', 'CGK_TENANT_MIGRATIONS']) {
          if (saved[key] === undefined) delete process.env[key];
          else process.env[key] = saved[key];
        }
      }
    });
  });
}

/** THIRD's file with other text: a changed applied file. */
const THIRD_ONLY_PLUS = {
  ...APP_TENANT,
  '003_user_names.sql': '-- a name for users\nalter table users add column name text; \n',
};

clearMigrationCache();
setsScenario(pgFixture);
setsScenario(pgliteFixture);
