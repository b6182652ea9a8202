import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/database/database.js';
import {
  MigrationChecksumError,
  MigrationError,
  MigrationFilesError,
  MigrationFleetError,
  TenantNotFoundError,
} from '../src/errors/index.js';
import {
  applyTenantMigrations,
  loadMigrations,
  migratePublic,
  migrateTenant,
  migrateTenants,
  migrationsDigest,
  migrationStatus,
  throwIfFailed,
  type TenantProgress,
} from '../src/migrations/index.js';
import { createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { countedSource, fixtureDirs, TENANT_FILES } from './helpers/migrations.js';

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

/**
 * The behaviour that must hold on every driver. `open()` gives the database under test; each scenario uses
 * its own tenant slugs and, for fleets, its own registry table, so scenarios do not see each other.
 */
function runnerScenarios(label: string, open: () => Database) {
  describe(`runner on ${label}`, () => {
    const db = () => open();
    const exec = async (script: string) => (await db().driver()).exec(script);
    const rows = async (text: string, values: unknown[] = []) => (await db().query({ text, values })).rows;
    const tableExists = async (schema: string, table: string) =>
      (await rows('select to_regclass($1) is not null as found', [`${schema}.${table}`]))[0]!.found === true;
    const applied = async (schema: string) =>
      (await rows(`select version, name, checksum, duration_ms from ${schema}.schema_migrations order by version`)).map((r) =>
        Number(r.version),
      );
    /** A fleet registry of its own: `public.<name>(slug)` with a schema per slug. */
    const fleet = async (name: string, slugs: string[]) => {
      await exec(
        `create table public.${name} (slug text primary key);\n${slugs.map((s) => `create schema tenant_${s}; insert into public.${name} values ('${s}');`).join('\n')}`,
      );
      return { table: name };
    };

    it('applies pending files in order with tracking rows and a summary row; a re-run is a no-op', async () => {
      const dir = fixtures.dir(TENANT_FILES);
      await exec('create schema tenant_rerun');
      const first = await migrateTenant(db(), 'rerun', { tenantDir: dir });
      expect(first.error).toBeUndefined();
      expect(first.failed).toBe(false);
      expect(first.results.map((r) => r.status)).toEqual(['Success', 'Success', 'Success']);
      expect(await applied('tenant_rerun')).toEqual([1, 2, 3]);
      const migrations = await loadMigrations(dir);
      const tracked = await rows(
        'select version, name, checksum, applied_at, duration_ms from tenant_rerun.schema_migrations order by version',
      );
      expect(tracked.map((r) => [r.name, r.checksum])).toEqual(migrations.map((m) => [m.name, m.checksum]));
      expect(tracked.every((r) => r.duration_ms !== null && Number(r.duration_ms) >= 0)).toBe(true);
      expect(first.results.every((r) => typeof r.durationMs === 'number' && r.durationMs >= 0)).toBe(true);
      expect(
        await rows("select version, checksum_digest from public.tenant_migration_state where schema_name = 'tenant_rerun'"),
      ).toEqual([{ version: 3, checksum_digest: migrationsDigest(migrations) }]);
      expect(await tableExists('tenant_rerun', 'customers')).toBe(true);

      const again = await migrateTenant(db(), 'rerun', { tenantDir: dir });
      expect(again.error).toBeUndefined();
      expect(again.results.map((r) => r.status)).toEqual(['Skipped', 'Skipped', 'Skipped']);
      const after = await rows('select version, applied_at from tenant_rerun.schema_migrations order by version');
      expect(after).toEqual(tracked.map((r) => ({ version: r.version, applied_at: r.applied_at })));
    });

    it('tenant files run in the tenant schema only (search_path is set to it, transaction-locally)', async () => {
      const dir = fixtures.dir({
        '001_where.sql':
          "create table whereami as select current_schema()::text as schema_name, current_setting('search_path') as path;\n",
      });
      await exec('create schema tenant_where');
      throwIfFailed(await migrateTenant(db(), 'where', { tenantDir: dir }));
      expect(await rows('select schema_name, path from tenant_where.whereami')).toEqual([
        { schema_name: 'tenant_where', path: 'tenant_where, extensions' },
      ]);
      expect((await rows("select current_setting('search_path') as path"))[0]!.path).not.toContain('tenant_where');
    });

    it('refuses an applied file whose checksum changed, naming it with both checksums, and applies nothing in that schema', async () => {
      const dir = fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'] });
      await exec('create schema tenant_drift');
      throwIfFailed(await migrateTenant(db(), 'drift', { tenantDir: dir }));
      const before = (await loadMigrations(dir))[0]!.checksum;

      const edited = fixtures.dir({
        '001_orders.sql': TENANT_FILES['001_orders.sql'].replace('numeric', 'bigint'),
        '002_customers.sql': TENANT_FILES['002_customers.sql'],
      });
      const after = (await loadMigrations(edited))[0]!.checksum;
      const result = await migrateTenant(db(), 'drift', { tenantDir: edited });
      expect(result.failed).toBe(true);
      expect(result.error).toBeInstanceOf(MigrationChecksumError);
      expect(result.error!.code).toBe('CGK_MIGRATION_CHECKSUM');
      expect(result.error!.message).toContain('001_orders.sql');
      expect(result.error!.message).toContain(before);
      expect(result.error!.message).toContain(after);
      expect(result.error!.message).toContain('tenant_drift');
      expect(result.results.map((r) => [r.filename, r.status])).toEqual([
        ['001_orders.sql', 'Error'],
        ['002_customers.sql', 'NotExecuted'],
      ]);
      expect(await tableExists('tenant_drift', 'customers')).toBe(false);
      expect(await applied('tenant_drift')).toEqual([1]);
    });

    it("a failing file rolls back completely; the error names the file, the line and PostgreSQL's message", async () => {
      const dir = fixtures.dir({
        '001_orders.sql': TENANT_FILES['001_orders.sql'],
        '002_broken.sql':
          '-- adds notes\ncreate table notes (id int);\ninsert into notes values (1);\nselect *\n  from missing_table;\n',
        '003_after.sql': 'create table after_broken (id int);\n',
      });
      await exec('create schema tenant_broken');
      const result = await migrateTenant(db(), 'broken', { tenantDir: dir });
      expect(result.failed).toBe(true);
      expect(result.results.map((r) => r.status)).toEqual(['Success', 'Error', 'NotExecuted']);
      const error = result.error as MigrationError;
      expect(error).toBeInstanceOf(MigrationError);
      expect(error.code).toBe('CGK_MIGRATION');
      expect(error.file).toBe('002_broken.sql');
      expect(error.line).toBe(5);
      expect(error.sqlState).toBe('42P01');
      expect(error.message).toContain('002_broken.sql');
      expect(error.message).toContain('line 5');
      expect(error.message).toContain('relation "missing_table" does not exist');
      expect(result.results[1]!.error).toBe(error);
      expect(await tableExists('tenant_broken', 'notes')).toBe(false);
      expect(await tableExists('tenant_broken', 'after_broken')).toBe(false);
      expect(await applied('tenant_broken')).toEqual([1]);
      expect(await rows("select version from public.tenant_migration_state where schema_name = 'tenant_broken'")).toEqual([
        { version: 1 },
      ]);
    });

    it('finds the line of an error PostgreSQL reports without a position (replaying the file statement by statement)', async () => {
      const dir = fixtures.dir({
        '001_twice.sql':
          "create table first (id int);\n\n-- the same again; fails\ncreate table second (t text default 'a;b');\ncreate table first (id int);\n",
      });
      await exec('create schema tenant_noposition');
      const result = await migrateTenant(db(), 'noposition', { tenantDir: dir });
      const error = result.error as MigrationError;
      expect(error.file).toBe('001_twice.sql');
      expect(error.sqlState).toBe('42P07');
      expect(error.line).toBe(5);
      expect(error.message).toMatch(
        /001_twice\.sql failed in schema tenant_noposition at line 5: relation "first" already exists/,
      );
      expect(await tableExists('tenant_noposition', 'first')).toBe(false);
    });

    it('runs a -- cgk:no-transaction file outside a transaction (CREATE INDEX CONCURRENTLY), then records it', async () => {
      const dir = fixtures.dir({
        ...TENANT_FILES,
        '004_concurrent_idx.sql':
          '-- cgk:no-transaction\ncreate index concurrently orders_note_idx on orders (note);\ncreate index concurrently orders_total_idx on orders (total);\n',
        '005_later.sql': 'create table later (id int);\n',
      });
      await exec('create schema tenant_concurrent');
      const result = await migrateTenant(db(), 'concurrent', { tenantDir: dir });
      expect(result.error).toBeUndefined();
      expect(result.results.map((r) => r.status)).toEqual(['Success', 'Success', 'Success', 'Success', 'Success']);
      const indexes = await rows(
        "select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'tenant_concurrent' and c.relname like 'orders_%_idx' order by 1",
      );
      expect(indexes).toEqual([
        { relname: 'orders_note_idx', indisvalid: true },
        { relname: 'orders_total_idx', indisvalid: true },
      ]);
      expect(await applied('tenant_concurrent')).toEqual([1, 2, 3, 4, 5]);
      expect(await rows("select version from public.tenant_migration_state where schema_name = 'tenant_concurrent'")).toEqual([
        { version: 5 },
      ]);
      // The session search_path was reset: a plain query does not see the tenant.
      expect((await rows("select current_setting('search_path') as path"))[0]!.path).not.toContain('tenant_concurrent');
      const again = await migrateTenant(db(), 'concurrent', { tenantDir: dir });
      expect(again.error).toBeUndefined();
      expect(again.results.map((r) => r.status)).toEqual(['Skipped', 'Skipped', 'Skipped', 'Skipped', 'Skipped']);
    });

    it('reports the file and line of a failing no-transaction file and records nothing', async () => {
      const dir = fixtures.dir({
        '001_orders.sql': TENANT_FILES['001_orders.sql'],
        '002_bad_idx.sql':
          '-- cgk:no-transaction\ncreate index concurrently orders_total_idx on orders (total);\ncreate index concurrently orders_x_idx\n  on orders (no_such_column);\n',
      });
      await exec('create schema tenant_badidx');
      const result = await migrateTenant(db(), 'badidx', { tenantDir: dir });
      const error = result.error as MigrationError;
      expect(error.file).toBe('002_bad_idx.sql');
      // PostgreSQL gives no position for a missing index column: the line is the failing statement's first.
      expect(error.line).toBe(3);
      expect(error.message).toContain('no_such_column');
      expect(await applied('tenant_badidx')).toEqual([1]);
    });

    it('reports a missing tenant schema as TenantNotFoundError, and a bad slug before any SQL', async () => {
      const result = await migrateTenant(db(), 'nosuchtenant', { tenantDir: fixtures.dir(TENANT_FILES) });
      expect(result.error).toBeInstanceOf(TenantNotFoundError);
      expect(result.results.map((r) => r.status)).toEqual(['NotExecuted', 'NotExecuted', 'NotExecuted']);
      await expect(migrateTenant(db(), 'Bad-Slug', { tenantDir: fixtures.dir(TENANT_FILES) })).rejects.toMatchObject({
        code: 'CGK_INVALID_SLUG',
      });
    });

    it('refuses a schema that has a migration applied that no file has (a newer release migrated it)', async () => {
      const full = fixtures.dir(TENANT_FILES);
      await exec('create schema tenant_ahead');
      throwIfFailed(await migrateTenant(db(), 'ahead', { tenantDir: full }));
      const older = fixtures.dir({
        '001_orders.sql': TENANT_FILES['001_orders.sql'],
        '002_customers.sql': TENANT_FILES['002_customers.sql'],
      });
      const result = await migrateTenant(db(), 'ahead', { tenantDir: older });
      expect(result.error).toBeInstanceOf(MigrationFilesError);
      expect(result.error!.message).toMatch(/tenant_ahead has migration 3 \(order_note\) applied, but there is no such file/);
    });

    it('migrateTenants: migrates every tenant, goes on past a broken one and reports it', async () => {
      const tenants = await fleet('fleet_broken', ['fb_a', 'fb_b', 'fb_c', 'fb_d']);
      await exec('create table tenant_fb_c.customers (conflicting int)');
      const dir = fixtures.dir(TENANT_FILES);
      const progress: TenantProgress[] = [];
      const result = await migrateTenants(db(), { tenantDir: dir, tenants, concurrency: 2, onProgress: (p) => progress.push(p) });
      expect(result.total).toBe(4);
      expect(result.pending).toBe(4);
      expect(result.failed.map((f) => f.slug)).toEqual(['fb_c']);
      const failure = result.failed[0]!;
      expect(failure.error).toBeInstanceOf(MigrationError);
      expect((failure.error as MigrationError).file).toBe('002_customers.sql');
      expect((failure.error as MigrationError).line).toBe(1);
      expect(failure.error!.message).toContain('relation "customers" already exists');
      expect(failure.applied).toEqual(['001_orders.sql']);
      expect(result.error).toBeInstanceOf(MigrationFleetError);
      expect(result.error!.message).toContain('fb_c');
      expect(() => throwIfFailed(result)).toThrow(MigrationFleetError);
      expect(result.tenants.map((t) => [t.slug, t.status])).toEqual([
        ['fb_a', 'Success'],
        ['fb_b', 'Success'],
        ['fb_c', 'Error'],
        ['fb_d', 'Success'],
      ]);
      for (const slug of ['fb_a', 'fb_b', 'fb_d']) expect(await applied(`tenant_${slug}`)).toEqual([1, 2, 3]);
      expect(await applied('tenant_fb_c')).toEqual([1]);
      expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4]);
      expect(progress.every((p) => p.total === 4)).toBe(true);
      expect(progress.find((p) => p.slug === 'fb_c')).toMatchObject({ status: 'Error' });

      // Fix the tenant and run again: only it is pending.
      await exec('drop table tenant_fb_c.customers');
      const again = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect(again.error).toBeUndefined();
      expect(again.pending).toBe(1);
      expect(again.tenants.map((t) => [t.slug, t.applied])).toEqual([['fb_c', ['002_customers.sql', '003_order_note.sql']]]);
      const noop = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect([noop.total, noop.pending, noop.tenants.length]).toEqual([4, 0, 0]);
    });

    it('migrateTenants streams tenants in keyset pages (here with synchronous commits)', async () => {
      const slugs = Array.from({ length: 7 }, (_, i) => `pg${i}`);
      const tenants = await fleet('fleet_pages', slugs);
      const result = await migrateTenants(db(), {
        tenantDir: fixtures.dir(TENANT_FILES),
        tenants,
        pageSize: 3,
        concurrency: 3,
        synchronousCommit: true,
      });
      expect(result.error).toBeUndefined();
      expect(result.tenants.map((t) => t.slug)).toEqual(slugs);
      expect(result.tenants.every((t) => t.status === 'Success')).toBe(true);
    });

    it('verify mode reads every schema, catches a lying summary and repairs it', async () => {
      const tenants = await fleet('fleet_verify', ['fv_a', 'fv_b', 'fv_c']);
      const dir = fixtures.dir(TENANT_FILES);
      throwIfFailed(await migrateTenants(db(), { tenantDir: dir, tenants }));
      // fv_b really has 2 of 3 (its 003 was undone by hand) while the summary says 3.
      await exec('alter table tenant_fv_b.orders drop column note; delete from tenant_fv_b.schema_migrations where version = 3');
      const lied = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect(lied.pending).toBe(0);

      const verified = await migrateTenants(db(), { tenantDir: dir, tenants, verify: true });
      expect(verified.error).toBeUndefined();
      expect(verified.pending).toBe(1);
      const migrations = await loadMigrations(dir);
      expect(verified.disagreements).toEqual([
        {
          slug: 'fv_b',
          schema: 'tenant_fv_b',
          summary: { version: 3, digest: migrationsDigest(migrations) },
          actual: { version: 2, digest: migrationsDigest(migrations.slice(0, 2)) },
        },
      ]);
      expect(verified.tenants.map((t) => [t.slug, t.status])).toEqual([
        ['fv_a', 'UpToDate'],
        ['fv_b', 'Success'],
        ['fv_c', 'UpToDate'],
      ]);
      expect(verified.tenants[1]!.applied).toEqual(['003_order_note.sql']);
      expect(await applied('tenant_fv_b')).toEqual([1, 2, 3]);
      const clean = await migrateTenants(db(), { tenantDir: dir, tenants, verify: true });
      expect([clean.pending, clean.disagreements.length]).toEqual([0, 0]);
    });

    it('verify mode repairs a summary that says less than the schema has', async () => {
      const tenants = await fleet('fleet_verify_low', ['fl_a']);
      const dir = fixtures.dir(TENANT_FILES);
      throwIfFailed(await migrateTenants(db(), { tenantDir: dir, tenants }));
      await exec("update public.tenant_migration_state set version = 1, checksum_digest = 'x' where schema_name = 'tenant_fl_a'");
      const verified = await migrateTenants(db(), { tenantDir: dir, tenants, verify: true });
      expect(verified.disagreements.map((d) => d.slug)).toEqual(['fl_a']);
      expect(verified.tenants[0]).toMatchObject({ status: 'UpToDate', applied: [] });
      expect(await rows("select version from public.tenant_migration_state where schema_name = 'tenant_fl_a'")).toEqual([
        { version: 3 },
      ]);
    });

    it('fleet fast path: a tenant the summary shows at version N gets each new file as one script', async () => {
      const tenants = await fleet('fleet_fast', ['ff_a', 'ff_b', 'ff_c']);
      const first = fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'] });
      throwIfFailed(await migrateTenants(db(), { tenantDir: first, tenants }));
      const { source, counter } = await countedSource(db());
      await migrateTenants(source, { tenantDir: first, tenants }); // warm: the summary table check is done once per driver
      counter.reset();
      const next = fixtures.dir(TENANT_FILES);
      const result = await migrateTenants(source, { tenantDir: next, tenants });
      expect(result.error).toBeUndefined();
      expect(result.tenants.map((t) => t.applied)).toEqual(Array(3).fill(['002_customers.sql', '003_order_note.sql']));
      // One statement for the fast check, one for the page, one script per file per tenant, one WAL flush.
      expect(counter.statements).toBe(2 + 3 * 2 + 1);
      for (const slug of ['ff_a', 'ff_b', 'ff_c']) expect(await applied(`tenant_${slug}`)).toEqual([1, 2, 3]);
      const migrations = await loadMigrations(next);
      expect(
        await rows("select version, checksum_digest from public.tenant_migration_state where schema_name = 'tenant_ff_b'"),
      ).toEqual([{ version: 3, checksum_digest: migrationsDigest(migrations) }]);
      const tracked = await rows(
        'select version, name, checksum, duration_ms from tenant_ff_b.schema_migrations order by version',
      );
      expect(tracked.map((r) => [r.version, r.name, r.checksum])).toEqual(migrations.map((m) => [m.version, m.name, m.checksum]));
      expect(tracked.every((r) => r.duration_ms !== null)).toBe(true);
    });

    it('fleet fast path: a summary claiming more than the schema has is caught by the guard (the general path applies what is missing)', async () => {
      const tenants = await fleet('fleet_guard', ['fg_a']);
      const dir = fixtures.dir(TENANT_FILES);
      const first = await loadMigrations(fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'] }));
      throwIfFailed(
        await migrateTenants(db(), { tenantDir: fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'] }), tenants }),
      );
      // The summary says 2 files (with the right digest for 2), the schema has 1.
      const two = (await loadMigrations(dir)).slice(0, 2);
      expect(first[0]!.checksum).toBe(two[0]!.checksum);
      await exec(
        `update public.tenant_migration_state set version = 2, checksum_digest = '${migrationsDigest(two)}' where schema_name = 'tenant_fg_a'`,
      );
      const result = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect(result.error).toBeUndefined();
      expect(result.tenants[0]!.applied).toEqual(['002_customers.sql', '003_order_note.sql']);
      expect(await applied('tenant_fg_a')).toEqual([1, 2, 3]);
    });

    it('fleet fast path: a failing file is named with its line, with or without a PostgreSQL position', async () => {
      const tenants = await fleet('fleet_fastfail', ['fx_a', 'fx_b']);
      throwIfFailed(
        await migrateTenants(db(), { tenantDir: fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'] }), tenants }),
      );
      await exec('create table tenant_fx_b.dupe (id int)');
      const dir = fixtures.dir({
        '001_orders.sql': TENANT_FILES['001_orders.sql'],
        '002_two.sql': '-- two statements\ncreate table dupe (id int);\nselect total\n  from orders where nope = 1;\n',
      });
      const result = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect(
        result.failed.map((f) => [
          f.slug,
          (f.error as MigrationError).file,
          (f.error as MigrationError).line,
          (f.error as MigrationError).sqlState,
        ]),
      ).toEqual([
        ['fx_a', '002_two.sql', 4, '42703'],
        ['fx_b', '002_two.sql', 2, '42P07'],
      ]);
      expect(await tableExists('tenant_fx_a', 'dupe')).toBe(false);
      expect(await applied('tenant_fx_a')).toEqual([1]);
    });

    it('a changed file makes the fast check find the tenants pending, and each is refused with the checksum error', async () => {
      const tenants = await fleet('fleet_drift', ['fd_a', 'fd_b']);
      throwIfFailed(await migrateTenants(db(), { tenantDir: fixtures.dir(TENANT_FILES), tenants }));
      const edited = fixtures.dir({ ...TENANT_FILES, '003_order_note.sql': 'alter table orders add column note varchar;\n' });
      const result = await migrateTenants(db(), { tenantDir: edited, tenants });
      expect(result.pending).toBe(2);
      expect(result.failed.map((f) => f.error?.code)).toEqual(['CGK_MIGRATION_CHECKSUM', 'CGK_MIGRATION_CHECKSUM']);
    });

    it("a summary correction that fails is the run's error (a COMMIT turned into ROLLBACK is not a success)", async () => {
      const dir = fixtures.dir(TENANT_FILES);
      await exec('create schema tenant_sumfail');
      throwIfFailed(await migrateTenant(db(), 'sumfail', { tenantDir: dir }));
      await exec(`update public.tenant_migration_state set version = 1 where schema_name = 'tenant_sumfail';
create function public.cgk_test_refuse_sumfail() returns trigger language plpgsql as $$ begin if new.schema_name = 'tenant_sumfail' then raise exception 'summary write refused'; end if; return new; end $$;
create trigger cgk_test_refuse_sumfail before insert or update on public.tenant_migration_state for each row execute function public.cgk_test_refuse_sumfail();`);
      try {
        const result = await migrateTenant(db(), 'sumfail', { tenantDir: dir });
        expect(result.failed).toBe(true);
        expect(result.error).toBeInstanceOf(MigrationError);
        expect(result.error!.message).toContain('summary write refused');
        expect(result.results.map((r) => r.status)).toEqual(['Skipped', 'Skipped', 'Skipped']);
        expect(await rows("select version from public.tenant_migration_state where schema_name = 'tenant_sumfail'")).toEqual([
          { version: 1 },
        ]);
      } finally {
        await exec(
          'drop trigger cgk_test_refuse_sumfail on public.tenant_migration_state; drop function public.cgk_test_refuse_sumfail()',
        );
      }
      expect((await migrateTenant(db(), 'sumfail', { tenantDir: dir })).error).toBeUndefined();
      expect(await rows("select version from public.tenant_migration_state where schema_name = 'tenant_sumfail'")).toEqual([
        { version: 3 },
      ]);
    });

    it('verify mode deletes the summary rows of dropped schemas (a plain run leaves them)', async () => {
      const tenants = await fleet('fleet_dropped', ['fdr_a', 'fdr_b']);
      const dir = fixtures.dir(TENANT_FILES);
      throwIfFailed(await migrateTenants(db(), { tenantDir: dir, tenants }));
      await exec('drop schema tenant_fdr_b cascade');
      const summaryRows = async () =>
        (
          await rows(
            "select schema_name from public.tenant_migration_state where schema_name in ('tenant_fdr_a', 'tenant_fdr_b') order by 1",
          )
        ).map((r) => r.schema_name);
      const plain = await migrateTenants(db(), { tenantDir: dir, tenants });
      expect([plain.error, plain.total, plain.pending]).toEqual([undefined, 1, 0]);
      expect(await summaryRows()).toEqual(['tenant_fdr_a', 'tenant_fdr_b']);
      const verified = await migrateTenants(db(), { tenantDir: dir, tenants, verify: true });
      expect([verified.error, verified.total, verified.pending, verified.disagreements]).toEqual([undefined, 1, 0, []]);
      expect(await summaryRows()).toEqual(['tenant_fdr_a']);
    });

    it('migrateTenants ignores exceptions thrown by onProgress', async () => {
      const tenants = await fleet('fleet_progress', ['fp_a', 'fp_b', 'fp_c']);
      const seen: string[] = [];
      const result = await migrateTenants(db(), {
        tenantDir: fixtures.dir(TENANT_FILES),
        tenants,
        onProgress: (p) => {
          seen.push(p.slug);
          throw new Error('progress display broke');
        },
      });
      expect(result.error).toBeUndefined();
      expect(result.failed).toEqual([]);
      expect(result.tenants.map((t) => [t.slug, t.status])).toEqual([
        ['fp_a', 'Success'],
        ['fp_b', 'Success'],
        ['fp_c', 'Success'],
      ]);
      expect(seen.sort()).toEqual(['fp_a', 'fp_b', 'fp_c']);
      for (const slug of ['fp_a', 'fp_b', 'fp_c']) expect(await applied(`tenant_${slug}`)).toEqual([1, 2, 3]);
    });

    it("applyTenantMigrations: all files inside the caller's transaction, with tracking rows and the summary", async () => {
      const dir = fixtures.dir({
        ...TENANT_FILES,
        '004_concurrent_idx.sql': '-- cgk:no-transaction\ncreate index concurrently orders_note_idx on orders (note);\n',
      });
      const driver = await db().driver();
      const { tx } = await driver.begin([]);
      await tx.exec('create schema tenant_created');
      const path = (await tx.query({ text: "select set_config('search_path', 'public', true) as path" })).rows;
      expect(path).toEqual([{ path: 'public' }]);
      expect(await applyTenantMigrations(tx, 'tenant_created', { tenantDir: dir })).toBe(4);
      expect((await tx.query({ text: "select current_setting('search_path') as p" })).rows[0]!.p).toBe('public');
      expect(await tx.commit()).toBe('COMMIT');
      expect(await applied('tenant_created')).toEqual([1, 2, 3, 4]);
      const migrations = await loadMigrations(dir);
      expect(
        await rows("select version, checksum_digest from public.tenant_migration_state where schema_name = 'tenant_created'"),
      ).toEqual([{ version: 4, checksum_digest: migrationsDigest(migrations) }]);
      expect(await tableExists('tenant_created', 'orders_note_idx')).toBe(true);
      // A later run of the tenant agrees it is up to date: every file Skipped.
      expect((await migrateTenant(db(), 'created', { tenantDir: dir })).results.map((r) => r.status)).toEqual([
        'Skipped',
        'Skipped',
        'Skipped',
        'Skipped',
      ]);
    });

    it('applyTenantMigrations: rolled back with the caller, nothing remains', async () => {
      const dir = fixtures.dir(TENANT_FILES);
      const { tx } = await (await db().driver()).begin([]);
      await tx.exec('create schema tenant_rolledback');
      await applyTenantMigrations(tx, 'tenant_rolledback', { tenantDir: dir });
      await tx.rollback();
      expect((await rows("select count(*)::int as n from pg_namespace where nspname = 'tenant_rolledback'"))[0]!.n).toBe(0);
      expect(await rows("select * from public.tenant_migration_state where schema_name = 'tenant_rolledback'")).toEqual([]);
    });

    it('applyTenantMigrations: a failing file is named with its line (with and without a PostgreSQL position)', async () => {
      for (const [sql, line] of [
        ['create table b1 (id int);\nselect 1;\nselect nope from b1;\n', 3],
        ['create table b1 (id int);\n\ncreate table b2 (id int);\ncreate table b1 (id int);\n', 4],
      ] as const) {
        const dir = fixtures.dir({ '001_orders.sql': TENANT_FILES['001_orders.sql'], '002_bad.sql': sql });
        const { tx } = await (await db().driver()).begin([]);
        try {
          await tx.exec('create schema tenant_createfail');
          const error = await applyTenantMigrations(tx, 'tenant_createfail', { tenantDir: dir }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(MigrationError);
          expect(error).toMatchObject({ file: '002_bad.sql', line, schema: 'tenant_createfail' });
        } finally {
          await tx.rollback();
        }
      }
    });
  });
}

describe('on PostgreSQL 15 (pg driver)', () => {
  let database: TestDatabase;
  let db: Database;
  /** Tests that need a public schema of their own get another database; all are dropped together at the end (a drop waits for a checkpoint). */
  const extras: Array<{ database: TestDatabase; dbs: Database[] }> = [];
  /** Two Database instances (two pools; opened on first use) on a new database of their own. */
  const extraDatabase = async (prefix: string): Promise<[Database, Database]> => {
    const extra = await createTestDatabase(prefix);
    const dbs: [Database, Database] = [new Database({ url: extra.url }), new Database({ url: extra.url })];
    extras.push({ database: extra, dbs });
    return dbs;
  };
  beforeAll(async () => {
    database = await createTestDatabase('cgk_migrations');
    db = new Database({ url: database.url });
  });
  afterAll(async () => {
    await db?.end();
    // Five databases: dropped at once, so their checkpoints overlap instead of queueing.
    await Promise.all([
      ...extras.map(async (extra) => {
        await Promise.all(extra.dbs.map((d) => d.end()));
        await extra.database.drop();
      }),
      database?.drop(),
    ]);
  }, DROP_TIMEOUT_MS);

  runnerScenarios('pg', () => db);

  it('two runners racing (two Database instances) apply each migration exactly once', async () => {
    const dir = fixtures.dir({
      // Not idempotent on purpose: a second execution would fail.
      '001_orders.sql': 'create table orders (id int);\nselect pg_sleep(0.1);\n',
      '002_count.sql': 'create table runs (n int);\ninsert into runs values (1);\n',
      '003_idx.sql': '-- cgk:no-transaction\ncreate index concurrently orders_id_idx on orders (id);\n',
      '004_more.sql': 'insert into runs values (2);\nselect pg_sleep(0.05);\n',
    });
    await (await db.driver()).exec('create schema tenant_race');
    const second = new Database({ url: database.url });
    try {
      const results = await Promise.all([
        migrateTenant(db, 'race', { tenantDir: dir }),
        migrateTenant(second, 'race', { tenantDir: dir }),
      ]);
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      const statuses = results[0]!.results.map((r, i) => [r.status, results[1]!.results[i]!.status].sort());
      expect(statuses).toEqual([
        ['Skipped', 'Success'],
        ['Skipped', 'Success'],
        ['Skipped', 'Success'],
        ['Skipped', 'Success'],
      ]);
      expect((await db.query({ text: 'select n from tenant_race.runs order by n' })).rows).toEqual([{ n: 1 }, { n: 2 }]);
      expect(
        (await db.query({ text: 'select version from tenant_race.schema_migrations order by version' })).rows.map(
          (r) => r.version,
        ),
      ).toEqual([1, 2, 3, 4]);
    } finally {
      await second.end();
    }
  });

  it('two fleet runs racing over the same tenants apply each migration once per tenant', async () => {
    const driver = await db.driver();
    await driver.exec(
      `create table public.fleet_race (slug text primary key);\n${Array.from({ length: 6 }, (_, i) => `create schema tenant_fr${i}; insert into public.fleet_race values ('fr${i}');`).join('\n')}`,
    );
    const dir = fixtures.dir({
      '001_once.sql': 'create table once (id int);\ninsert into once values (1);\n',
      '002_twice.sql': 'insert into once values (2);\n',
    });
    const second = new Database({ url: database.url });
    try {
      const [a, b] = await Promise.all([
        migrateTenants(db, { tenantDir: dir, tenants: { table: 'fleet_race' }, concurrency: 3 }),
        migrateTenants(second, { tenantDir: dir, tenants: { table: 'fleet_race' }, concurrency: 3 }),
      ]);
      expect([a.error, b.error]).toEqual([undefined, undefined]);
      const { rows } = await db.query({
        text: `select string_agg(n::text, ',' order by n) as ns from (${Array.from({ length: 6 }, (_, i) => `select ${i} as t, id as n from tenant_fr${i}.once`).join(' union all ')}) x group by t order by t`,
      });
      expect(rows.map((r) => r.ns)).toEqual(Array(6).fill('1,2'));
    } finally {
      await second.end();
    }
  });

  it('the no-op fleet check costs the same number of statements for 5 and for 30 tenants', async () => {
    const driver = await db.driver();
    const dir = fixtures.dir(TENANT_FILES);
    const counts: number[] = [];
    for (const [name, n] of [
      ['fleet_count5', 5],
      ['fleet_count30', 30],
    ] as const) {
      await driver.exec(
        `create table public.${name} (slug text primary key);\n${Array.from({ length: n }, (_, i) => `create schema tenant_${name}_${i}; insert into public.${name} values ('${name}_${i}');`).join('\n')}`,
      );
      const { source, counter } = await countedSource(db);
      const first = await migrateTenants(source, { tenantDir: dir, tenants: { table: name } });
      expect(first.failed).toEqual([]);
      expect(first.tenants).toHaveLength(n);
      counter.reset();
      const noop = await migrateTenants(source, { tenantDir: dir, tenants: { table: name } });
      expect([noop.total, noop.pending]).toEqual([n, 0]);
      counts.push(counter.statements);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBe(1);
  });

  it('the default tenant source is public.organizations (a slug whose schema exists); migratePublic applies public files', async () => {
    const [odb] = await extraDatabase('cgk_migrations_org');
    {
      const publicDir = fixtures.dir({
        '001_organizations.sql': "create table organizations (slug text primary key, status text not null default 'active');\n",
        '002_users.sql': 'create table users (id int);\n',
      });
      const tenantDir = fixtures.dir(TENANT_FILES);
      const pub = await migratePublic(odb, { publicDir });
      expect(pub.error).toBeUndefined();
      expect(pub.results.map((r) => [r.schema, r.status])).toEqual([
        ['public', 'Success'],
        ['public', 'Success'],
      ]);
      expect((await migratePublic(odb, { publicDir })).results.map((r) => r.status)).toEqual(['Skipped', 'Skipped']);
      const driver = await odb.driver();
      // ghost has a row but no schema: not a tenant. stray has a schema but no row: not a tenant either.
      await driver.exec(
        "insert into organizations (slug) values ('acme'), ('globex'), ('ghost'); create schema tenant_acme; create schema tenant_globex; create schema tenant_stray;",
      );

      let status = await migrationStatus(odb, { publicDir, tenantDir });
      expect(status.public).toMatchObject({ schema: 'public', initialized: true, upToDate: true, pending: [] });
      expect(status.public.applied.map((a) => [a.version, a.name, a.changed])).toEqual([
        [1, 'organizations', false],
        [2, 'users', false],
      ]);
      expect(status.tenants).toMatchObject({ registry: true, latest: 3, total: 2, upToDate: 0, pending: 2 });
      expect(status.tenants.tenants.map((t) => [t.slug, t.reason, t.pending.length])).toEqual([
        ['acme', 'new', 3],
        ['globex', 'new', 3],
      ]);

      const result = await migrateTenants(odb, { tenantDir });
      expect(result.error).toBeUndefined();
      expect(result.tenants.map((t) => t.slug)).toEqual(['acme', 'globex']);
      expect((await driver.query({ text: "select to_regclass('tenant_stray.schema_migrations') as t" })).rows[0]!.t).toBeNull();

      const newer = fixtures.dir({ ...TENANT_FILES, '004_reviews.sql': 'create table reviews (id int);\n' });
      const publicNewer = fixtures.dir({
        ...{
          '001_organizations.sql': "create table organizations (slug text primary key, status text not null default 'active');\n",
          '002_users.sql': 'create table users (id int);\n',
        },
        '003_sessions.sql': 'create table sessions (id int);\n',
      });
      status = await migrationStatus(odb, { publicDir: publicNewer, tenantDir: newer, slug: 'acme' });
      expect(status.public.pending.map((p) => p.filename)).toEqual(['003_sessions.sql']);
      expect(status.public.upToDate).toBe(false);
      expect(status.tenants).toMatchObject({ latest: 4, total: 2, upToDate: 0, pending: 2 });
      expect(status.tenants.tenants[0]).toEqual({
        slug: 'acme',
        schema: 'tenant_acme',
        version: 3,
        pending: ['004_reviews.sql'],
        reason: 'behind',
      });
      expect(status.tenant?.applied.map((a) => a.version)).toEqual([1, 2, 3]);
      expect(status.tenant?.pending.map((p) => p.filename)).toEqual(['004_reviews.sql']);
    }
  });

  it("tenants: 'schemas' lists every tenant_* schema, no registry needed", async () => {
    const [sdb] = await extraDatabase('cgk_migrations_schemas');
    const driver = await sdb.driver();
    // tenantx and other do not match tenant_*: not tenants.
    await driver.exec('create schema tenant_sa; create schema tenant_sb; create schema tenantx; create schema other;');
    const dir = fixtures.dir(TENANT_FILES);
    const result = await migrateTenants(sdb, { tenantDir: dir, tenants: 'schemas' });
    expect(result.error).toBeUndefined();
    expect([result.total, result.pending]).toEqual([2, 2]);
    expect(result.tenants.map((t) => [t.slug, t.schema, t.status])).toEqual([
      ['sa', 'tenant_sa', 'Success'],
      ['sb', 'tenant_sb', 'Success'],
    ]);
    expect(
      (
        await driver.query({
          text: "select to_regclass('tenantx.schema_migrations') as a, to_regclass('other.schema_migrations') as b",
        })
      ).rows,
    ).toEqual([{ a: null, b: null }]);
    const noop = await migrateTenants(sdb, { tenantDir: dir, tenants: 'schemas' });
    expect([noop.error, noop.total, noop.pending, noop.tenants.length]).toEqual([undefined, 2, 0, 0]);
    const status = await migrationStatus(sdb, { publicDir: fixtures.dir({}), tenantDir: dir, tenants: 'schemas' });
    expect(status.tenants).toMatchObject({ registry: true, total: 2, upToDate: 2, pending: 0 });
  });

  it('a fleet run without a registry says to run the public migrations first', async () => {
    const [odb] = await extraDatabase('cgk_migrations_noreg');
    {
      const result = await migrateTenants(odb, { tenantDir: fixtures.dir(TENANT_FILES) });
      expect(result.error).toBeInstanceOf(MigrationError);
      expect(result.error!.hint).toMatch(/public migrations first/);
      const status = await migrationStatus(odb, {
        publicDir: fixtures.dir({ '001_a.sql': 'select 1' }),
        tenantDir: fixtures.dir(TENANT_FILES),
      });
      expect(status.public).toMatchObject({ initialized: false, applied: [], upToDate: false });
      expect(status.tenants).toMatchObject({ registry: false, total: 0 });
    }
  });

  it('two migratePublic runs racing create the tracking tables once and apply each file once', async () => {
    const [a, b] = await extraDatabase('cgk_migrations_pubrace');
    {
      const publicDir = fixtures.dir({
        '001_one.sql': 'create table one (id int);\n',
        '002_two.sql': 'create table two (id int);\n',
      });
      const results = await Promise.all([migratePublic(a, { publicDir }), migratePublic(b, { publicDir })]);
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      expect(results.flatMap((r) => r.results.map((x) => x.status)).sort()).toEqual(['Skipped', 'Skipped', 'Success', 'Success']);
    }
  });

  it('end to end over the real migration directories: public, then tenants, then a no-op', async () => {
    const [odb] = await extraDatabase('cgk_migrations_real');
    {
      const pub = await migratePublic(odb);
      expect(pub.error).toBeUndefined();
      expect(pub.results.length).toBeGreaterThan(0);
      const driver = await odb.driver();
      await driver.exec(
        "insert into public.organizations (slug, name) values ('real_a', 'A'), ('real_b', 'B'); create schema tenant_real_a; create schema tenant_real_b;",
      );
      const fleetRun = await migrateTenants(odb);
      expect(fleetRun.error).toBeUndefined();
      expect(fleetRun.tenants.map((t) => [t.slug, t.status])).toEqual([
        ['real_a', 'Success'],
        ['real_b', 'Success'],
      ]);
      const tenantFiles = await loadMigrations(new URL('../src/migrations/tenant/', import.meta.url));
      expect(fleetRun.tenants[0]!.applied).toEqual(tenantFiles.map((m) => m.filename));

      // A new tenant inside one transaction, as createTenant does.
      const { tx } = await driver.begin([]);
      await tx.exec("insert into public.organizations (slug, name) values ('real_c', 'C'); create schema tenant_real_c;");
      expect(await applyTenantMigrations(tx, 'tenant_real_c')).toBe(tenantFiles.length);
      await tx.commit();

      const status = await migrationStatus(odb);
      expect(status.public.upToDate).toBe(true);
      expect(status.tenants).toMatchObject({ total: 3, upToDate: 3, pending: 0 });
      const verified = await migrateTenants(odb, { verify: true });
      expect([verified.error, verified.pending, verified.disagreements]).toEqual([undefined, 0, []]);
      const again = await migratePublic(odb);
      expect(again.error).toBeUndefined();
      expect(again.results.length).toBeGreaterThanOrEqual(6);
      expect(again.results.map((r) => r.status)).toEqual(again.results.map(() => 'Skipped'));
    }
  });
});

describe('on the embedded PostgreSQL 18 (PGlite)', () => {
  let db: Database;
  beforeAll(async () => {
    db = new Database({ driver: 'pglite', dataDir: ':memory:' });
    await db.query({ text: 'select 1' });
  }, 60_000);
  afterAll(async () => {
    await db?.end();
  });

  runnerScenarios('pglite', () => db);

  it('end to end over the real migration directories', async () => {
    expect((await migratePublic(db)).error).toBeUndefined();
    const driver = await db.driver();
    await driver.exec("insert into public.organizations (slug, name) values ('real_a', 'A'); create schema tenant_real_a;");
    const result = await migrateTenants(db);
    expect(result.error).toBeUndefined();
    expect(result.tenants.map((t) => [t.slug, t.status])).toEqual([['real_a', 'Success']]);
    const { tx } = await driver.begin([]);
    await tx.exec("insert into public.organizations (slug, name) values ('real_b', 'B'); create schema tenant_real_b;");
    expect(await applyTenantMigrations(tx, 'tenant_real_b')).toBeGreaterThan(0);
    await tx.commit();
    expect((await migrationStatus(db)).tenants).toMatchObject({ total: 2, upToDate: 2, pending: 0 });
  });
});
