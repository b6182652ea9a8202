/**
 * Kysely as its users expect it in a tenant scope (#24 item 5): `.stream()` of INSERT/UPDATE/DELETE ...
 * RETURNING, two overlapping `Migrator` runs in scopes of one tenant applying each migration once, and errors
 * that keep the caller's stack frames.
 */
import { sql as ksql, type Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, QueryError, createTenant, setupDatabase } from '../src/index.js';
import { tenantKysely } from '../src/orm/kysely.js';
import { isQuery } from '../src/orm/scope-link.js';
import { DROP_TIMEOUT_MS, createTestDatabase, type TestDatabase } from './helpers/database.js';

interface Tables {
  items: { id: number; label: string };
  applied: { name: string };
}

let database: TestDatabase;
let db: Database;
let kysely: Kysely<Tables>;
const SLUG = 'kport';

beforeAll(async () => {
  database = await createTestDatabase('cgk_kport');
  // Migrations create tables: the scopes run with the schema's owner's rights (tenant roles have none to create).
  db = new Database({ url: database.url, tenantRoles: 'off' });
  await setupDatabase({ db });
  await createTenant({ slug: SLUG, name: 'Kysely porting' }, { db });
  await db.withTenant(SLUG, (sql) => sql`create table items (id int primary key, label text)`);
  kysely = tenantKysely<Tables>({ database: db });
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
}, DROP_TIMEOUT_MS);

describe('Kysely .stream() of data-modifying statements', () => {
  it('streams INSERT ... RETURNING, UPDATE ... RETURNING and DELETE ... RETURNING in chunks', async () => {
    const seen = await db.withTenant(SLUG, async () => {
      const inserted: number[] = [];
      const rows = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, label: 'new' }));
      for await (const row of kysely.insertInto('items').values(rows).returning('id').stream(3)) inserted.push(row.id);
      const updated: string[] = [];
      const update = kysely.updateTable('items').set({ label: 'seen' }).where('id', '<=', 4).returning('label');
      for await (const row of update.stream(2)) updated.push(row.label);
      const deleted: number[] = [];
      for await (const row of kysely.deleteFrom('items').where('id', '>', 5).returning('id').stream()) deleted.push(row.id);
      const left = await kysely.selectFrom('items').select('id').orderBy('id').execute();
      return { inserted, updated, deleted: deleted.sort(), left: left.map((r) => r.id) };
    });
    expect(seen).toEqual({
      inserted: [1, 2, 3, 4, 5, 6, 7],
      updated: ['seen', 'seen', 'seen', 'seen'],
      deleted: [6, 7],
      left: [1, 2, 3, 4, 5],
    });
  });

  it('still streams queries through a cursor, and tells queries from data-modifying statements', () => {
    expect(isQuery('select 1')).toBe(true);
    expect(isQuery('  /* c */ (select 1) union (select 2)')).toBe(true);
    expect(isQuery('with a as (select 1) select * from a')).toBe(true);
    expect(isQuery('with a as (delete from t returning id) select * from a')).toBe(false);
    expect(isQuery('insert into t values (1) returning id')).toBe(false);
    expect(isQuery('-- x\nupdate t set a = 1 returning a')).toBe(false);
  });
});

describe('Kysely Migrator in scopes of one tenant', () => {
  /** Migrations that record each run of their up(), slowly enough for two runners to overlap. */
  function migrations(names: string[]): Record<string, Migration> {
    return Object.fromEntries(
      names.map((name) => [
        name,
        {
          async up(trx: Kysely<unknown>) {
            await ksql`insert into applied (name) values (${name})`.execute(trx);
            await ksql`select pg_sleep(0.2)`.execute(trx);
          },
        },
      ]),
    );
  }
  const migrator = (names: string[]) => new Migrator({ db: kysely, provider: { getMigrations: async () => migrations(names) } });

  it('applies each migration once when two runs overlap', async () => {
    await db.withTenant(SLUG, (sql) => sql`create table applied (name text)`);
    // Kysely's own tables, made once (as at a tenant's creation): their CREATE is not safe to race in any transaction.
    const first = await db.withTenant(SLUG, () => migrator(['001']).migrateToLatest());
    expect(first.error).toBeUndefined();
    const names = ['001', '002', '003', '004'];
    const runs = await Promise.all([1, 2].map(() => db.withTenant(SLUG, () => migrator(names).migrateToLatest())));
    for (const run of runs) expect(run.error).toBeUndefined();
    const applied = runs.flatMap((run) => (run.results ?? []).map((r) => `${r.migrationName}:${r.status}`));
    expect(applied.sort()).toEqual(['002:Success', '003:Success', '004:Success']);
    const { rows } = await db.withTenant(SLUG, (sql) => sql`select name from applied order by name`);
    expect(rows.map((r) => r.name)).toEqual(names);
  }, 60_000);
});

describe('Kysely errors', () => {
  async function callerOfTheFailingQuery(): Promise<unknown> {
    return db.withTenant(SLUG, () => kysely.selectFrom('items').select(ksql<number>`1 / 0`.as('x')).execute()).catch((e) => e);
  }

  it("keep the caller's stack frames, as Kysely's own driver does", async () => {
    const error = await callerOfTheFailingQuery();
    expect(error).toBeInstanceOf(QueryError);
    expect((error as Error).stack).toContain('orm-kysely-porting.test.ts');
  });
});
