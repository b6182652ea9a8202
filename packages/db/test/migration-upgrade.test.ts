import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, migrateTenants, migrationStatus } from '../src/index.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from './helpers/database.js';
import { fixtureDirs, TENANT_FILES } from './helpers/migrations.js';

/**
 * A database whose tracking tables come from a release before migration sets (no `migration_set` column):
 * read as it is by the status report, then upgraded in place by the next run, keeping every row.
 */

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

/** The tracking tables as the release before migration sets made them. */
const OLD_FORM = `
alter table public.tenant_migration_state drop constraint tenant_migration_state_pkey;
alter table public.tenant_migration_state drop column migration_set;
alter table public.tenant_migration_state add primary key (schema_name);
alter table tenant_up_a.schema_migrations drop constraint schema_migrations_pkey;
alter table tenant_up_a.schema_migrations drop column migration_set;
alter table tenant_up_a.schema_migrations add primary key (version);
alter table tenant_up_b.schema_migrations drop constraint schema_migrations_pkey;
alter table tenant_up_b.schema_migrations drop column migration_set;
alter table tenant_up_b.schema_migrations add primary key (version);
`;

describe('tracking tables of an older release (pg)', () => {
  let database: TestDatabase;
  let db: Database;
  const rows = async (text: string) => (await db.query({ text })).rows;

  beforeAll(async () => {
    database = await createTestDatabase('cgk_upgrade');
    db = new Database({ url: database.url });
  });
  afterAll(async () => {
    await db?.end();
    await database?.drop();
  }, DROP_TIMEOUT_MS);

  it('are read by the status report, then upgraded in place with no row lost and nothing applied twice', async () => {
    const driver = await db.driver();
    await driver.exec('create schema tenant_up_a; create schema tenant_up_b');
    const dir = fixtures.dir(TENANT_FILES);
    expect((await migrateTenants(db, { tenantDir: dir, tenants: 'schemas', sets: { tenant: [] } })).failed).toEqual([]);
    await driver.exec(OLD_FORM);
    const before = await rows('select version, name, checksum, applied_at from tenant_up_a.schema_migrations order by version');
    const stateBefore = await rows('select schema_name, version, checksum_digest from public.tenant_migration_state order by 1');

    // A second Database: a new process, which has not checked the tracking tables yet.
    const later = new Database({ url: database.url });
    try {
      const status = await migrationStatus(later, { tenantDir: dir, tenants: 'schemas', sets: { tenant: [] } });
      expect(status.tenants).toMatchObject({ total: 2, upToDate: 2, pending: 0 });
      const next = fixtures.dir({ ...TENANT_FILES, '004_refunds.sql': 'create table refunds (id int);\n' });
      const run = await migrateTenants(later, { tenantDir: next, tenants: 'schemas', sets: { tenant: [] } });
      expect(run.failed).toEqual([]);
      expect(run.tenants.map((t) => t.applied)).toEqual([['004_refunds.sql'], ['004_refunds.sql']]);
    } finally {
      await later.end();
    }
    const after = await rows(
      'select migration_set, version, name, checksum, applied_at from tenant_up_a.schema_migrations order by version',
    );
    expect(after.slice(0, 3)).toEqual(before.map((r) => ({ migration_set: 'platform', ...r })));
    expect(after.map((r) => r.version)).toEqual([1, 2, 3, 4]);
    const state = await rows('select schema_name, migration_set, version from public.tenant_migration_state order by 1');
    expect(state).toEqual(stateBefore.map((r) => ({ schema_name: r.schema_name, migration_set: 'platform', version: 4 })));
    const keys = await rows(`select conrelid::regclass::text as t, pg_get_constraintdef(oid) as def from pg_constraint
      where contype = 'p' and conrelid in ('tenant_up_b.schema_migrations'::regclass, 'public.tenant_migration_state'::regclass)
      order by 1`);
    expect(keys).toEqual([
      { t: 'tenant_migration_state', def: 'PRIMARY KEY (schema_name, migration_set)' },
      { t: 'tenant_up_b.schema_migrations', def: 'PRIMARY KEY (migration_set, version)' },
    ]);
  });
});
