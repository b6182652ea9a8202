/**
 * What code ported from @vercel/postgres or node-postgres relies on, on every driver (docs/PORTING.md): the
 * config form of sql.query, several statements in one text, pg's field descriptions, sql refused when called
 * as a plain function; and the porting guide's unique-violation handler through @cgk/db/vercel-postgres.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { PostgresError, sql as compatSql, withTenant as compatWithTenant } from '../src/compat/vercel-postgres.js';
import {
  CgkError,
  type Database,
  QueryError,
  SqlCallError,
  closeDatabase,
  type QueryResult,
  type Row,
  configureDatabase,
  createTenant,
  getTenant,
  setupDatabase,
  withTenant,
} from '../src/index.js';
import { DROP_TIMEOUT_MS, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { driverFixtures } from './helpers/drivers.js';

describe.each(driverFixtures)('the sql contract ported code relies on, on $name', (fixture) => {
  let db: Database;
  let teardown: () => Promise<void>;

  beforeAll(async () => {
    ({ db, teardown } = await fixture.setup());
    await db.sql`create table if not exists port_check (id int primary key, label text)`;
  });
  afterAll(async () => {
    await teardown?.();
  }, DROP_TIMEOUT_MS);

  it('takes pg\'s query config: sql.query({ text, values }), with rowMode "array"', async () => {
    const { rows } = await db.sql.query<{ s: string }>({ text: 'select $1::text || $2::text as s', values: ['a', 'b'] });
    expect(rows).toEqual([{ s: 'ab' }]);
    const arrays = await db.sql.query({ text: 'select $1::int as a, $2::int as b', values: [1, 2], rowMode: 'array' });
    expect(arrays.rows).toEqual([[1, 2]]);
  });

  it("answers several statements in one text with the last one's result, as node-postgres does", async () => {
    const result = await db.sql.query(
      "insert into port_check values (1, 'x') on conflict do nothing; select label from port_check where id = 1",
    );
    expect(result.command).toBe('SELECT');
    expect(result.rows).toEqual([{ label: 'x' }]);
    expect(result.rowCount).toBe(1);
  });

  it("describes columns with pg's field properties (the embedded database: name and type only)", async () => {
    const { fields } = await db.sql`select id, label, 1::int as n from port_check limit 1`;
    expect(fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ['id', 23],
      ['label', 25],
      ['n', 23],
    ]);
    if (fixture.name === 'pglite') {
      expect(Object.keys(fields[0]!).sort()).toEqual(['dataTypeID', 'name']);
    } else {
      expect(fields[0]).toMatchObject({ columnID: 1, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' });
      expect(fields[0]!.tableID).toBeGreaterThan(0);
      expect(fields[2]).toMatchObject({ tableID: 0, columnID: 0 });
    }
  });

  it('refuses sql called as a plain function, before anything is sent', async () => {
    const asFunction = db.sql as unknown as (text: unknown) => Promise<unknown>;
    for (const misuse of [["insert into port_check values (2, 'called')"], "insert into port_check values (3, 'x')"]) {
      const error = await asFunction(misuse).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SqlCallError);
      expect((error as CgkError).code).toBe('CGK_INCORRECT_SQL_CALL');
    }
    await expect(db.sql.query(42 as never)).rejects.toBeInstanceOf(SqlCallError);
    await expect(db.sql.query('select $1', 'a' as never)).rejects.toBeInstanceOf(SqlCallError);
    const { rows } = await db.sql`select count(*)::int as n from port_check where id in (2, 3)`;
    expect(rows).toEqual([{ n: 0 }]);
  });
});

describe('the porting guide: a unique violation handled by code written for @vercel/postgres', () => {
  let database: TestDatabase;
  const SLUG = 'porting';

  beforeAll(async () => {
    database = await createTestDatabase('cgk_porting');
    const db = configureDatabase({ url: database.url });
    await setupDatabase({ db });
    await createTenant({ slug: SLUG, name: 'Porting' }, { db });
  });
  afterAll(async () => {
    await closeDatabase();
    await database?.drop();
  }, DROP_TIMEOUT_MS);

  /** docs/PORTING.md's example, as written there (after the import swap and the withTenant wrapping). */
  async function addCustomer(slug: string, id: string): Promise<'created' | 'exists'> {
    try {
      await compatWithTenant(slug, () => compatSql`insert into customers (shopify_customer_id) values (${id})`);
      return 'created';
    } catch (error) {
      if ((error as { code?: string }).code === '23505') return 'exists';
      throw error;
    }
  }

  it("keeps `e.code === '23505'` working through @cgk/db/vercel-postgres", async () => {
    expect(await addCustomer(SLUG, '1001')).toBe('created');
    expect(await addCustomer(SLUG, '1001')).toBe('exists');
    const error = await compatSql`select * from no_such_table`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresError);
    expect(error).toMatchObject({ name: 'PostgresError', code: '42P01' });
    expect((error as PostgresError).cause).toBeInstanceOf(QueryError);
  });

  it("leaves the library's own errors as they are (an unknown tenant is CGK_TENANT_NOT_FOUND)", async () => {
    const error = await addCustomer('nosuch', '1001').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CgkError);
    expect((error as CgkError).code).toBe('CGK_TENANT_NOT_FOUND');
  });

  it('a scope of an unknown tenant that runs no query resolves without a connection; getTenant says it is unknown', async () => {
    expect(await withTenant('nosuch', async () => 1)).toBe(1);
    expect(await getTenant('nosuch')).toBeNull();
    await expect(withTenant('nosuch', (sql) => sql`select 1`)).rejects.toMatchObject({ code: 'CGK_TENANT_NOT_FOUND' });
  });

  it('the plain import keeps code CGK_QUERY and gives the SQLSTATE as sqlState (the one-line change)', async () => {
    const error = await configureDatabase({ url: database.url })
      .withTenant(SLUG, (sql) => sql`insert into customers (shopify_customer_id) values ('1001')`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CGK_QUERY', sqlState: '23505', constraint: 'customers_shopify_customer_id_key' });
  });
});

describe('untyped rows, as code written for @vercel/postgres uses them (checked by npm run typecheck)', () => {
  it("are node-postgres's QueryResultRow: any column, any value", () => {
    expectTypeOf<Row>().toEqualTypeOf<Record<string, any>>();
    // Compiles only if a column's value is `any`: @vercel/postgres code does arithmetic and passes columns on.
    const ported = (result: QueryResult<Row>): number => result.rows[0]!.total_cents * 2 + result.rows[0]!.count.length;
    expect(ported({ rows: [{ total_cents: 21, count: 'ab' }], rowCount: 1, fields: [], command: 'SELECT' })).toBe(44);
  });
});
