import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  InvalidIdentifierError,
  InvalidSlugError,
  QueryError,
  ScopeEndedError,
  TenantNotFoundError,
  TenantScopeConflictError,
  TransactionAbortedError,
  currentTenant,
  identifier,
  sql,
  type Sql,
} from '../src/index.js';
import { driverFixtures } from './helpers/drivers.js';
import { createMarkedTenants, runIsolationScenario } from './helpers/isolation.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';

// The same behaviour, whichever driver runs it.
describe.each(driverFixtures)('behaviour on $name', (fixture) => {
  let db: Database;
  let teardown: () => Promise<void>;
  let appRole: string;
  let slugs: string[];

  beforeAll(async () => {
    ({ db, teardown, appRole } = await fixture.setup());
    slugs = await createMarkedTenants(db, 'iso', 6);
  });
  afterAll(async () => {
    await teardown?.();
  }, DROP_TIMEOUT_MS);

  describe('the sql tag', () => {
    it('sends values as parameters, never as text', async () => {
      const hostile = "x'); drop schema tenant_iso0 cascade; --";
      const result = await db.sql<{ v: string; n: number }>`select ${hostile}::text as v, ${41}::int + 1 as n`;
      expect(result.rows).toEqual([{ v: hostile, n: 42 }]);
      const still = await db.sql`select 1 from pg_namespace where nspname = 'tenant_iso0'`;
      expect(still.rowCount).toBe(1);
    });

    it('resolves to rows, rowCount, fields and command like @vercel/postgres', async () => {
      await db.sql`create table shape_check (id int primary key, label text)`;
      const insert = await db.sql`insert into shape_check values (${1}, ${'a'}), (${2}, ${'b'})`;
      expect(insert).toMatchObject({ command: 'INSERT', rowCount: 2, rows: [] });
      const select = await db.sql<{ id: number; label: string }>`select id, label from shape_check order by id`;
      expect(select.command).toBe('SELECT');
      expect(select.rowCount).toBe(2);
      expect(select.rows).toEqual([
        { id: 1, label: 'a' },
        { id: 2, label: 'b' },
      ]);
      expect(select.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ['id', 23],
        ['label', 25],
      ]);
      const update = await db.sql`update shape_check set label = ${'c'} where id > ${0}`;
      expect(update).toMatchObject({ command: 'UPDATE', rowCount: 2 });
      await db.sql`drop table shape_check`;
    });

    it('parses values as node-postgres does (int8 and numeric as strings, timestamps as Date, json as objects)', async () => {
      const { rows } =
        await db.sql`select 9007199254740993::int8 as big, 1.50::numeric as num, timestamptz '2026-01-02 03:04:05Z' as at, '{"a":[1]}'::jsonb as doc, ${[1, 2]}::int[] as arr`;
      expect(rows[0]).toEqual({
        big: '9007199254740993',
        num: '1.50',
        at: new Date('2026-01-02T03:04:05Z'),
        doc: { a: [1] },
        arr: [1, 2],
      });
    });

    it('has sql.query(text, values) as @vercel/postgres has it', async () => {
      const { rows } = await db.sql.query<{ s: string }>('select $1::text || $2::text as s', ['a', 'b']);
      expect(rows).toEqual([{ s: 'ab' }]);
    });

    it('places a validated identifier as a quoted name, and refuses anything else before sending SQL', async () => {
      const { rows } = await db.sql<{ tenant: string }>`select tenant from ${identifier('tenant_iso1', 'marker')}`;
      expect(rows).toEqual([{ tenant: 'iso1' }]);
      expect(() => identifier('tenant_iso1"; drop table x; --')).toThrow(InvalidIdentifierError);
      expect(() => identifier('Orders')).toThrow(InvalidIdentifierError);
      expect(() => identifier('a'.repeat(64))).toThrow(InvalidIdentifierError);
    });

    it('splices only identifiers that identifier() made: a look-alike object is sent as a value, never as text', async () => {
      const forged = { quoted: '"tenant_iso1"."marker"; drop schema tenant_iso1 cascade; --' };
      const error = await db.sql`select * from ${forged}`.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CGK_QUERY', sqlState: '42601' });
      const still = await db.sql`select 1 from pg_namespace where nspname = 'tenant_iso1'`;
      expect(still.rowCount).toBe(1);
    });

    it('reports a failed statement as a QueryError carrying the SQLSTATE', async () => {
      const error = await db.sql`select * from no_such_table`.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryError);
      expect(error).toMatchObject({ code: 'CGK_QUERY', sqlState: '42P01' });
      expect((error as Error).message).toContain('no_such_table');
    });

    it('sees no tenant in search_path, nor its role, outside a scope, on the very connections scopes just used', async () => {
      // Warm the pool: `width` scopes open at once, so each holds a connection of its own (PgBouncer's fixture
      // has two server connections, the embedded database one)...
      const width = fixture.concurrent ? 2 : 1;
      let started = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const inScopes = await Promise.all(
        Array.from({ length: width }, (_, i) =>
          db.withTenant(slugs[i]!, async (scoped) => {
            const { rows } = await scoped<{
              pid: number;
              path: string;
            }>`select pg_backend_pid() as pid, current_setting('search_path') as path`;
            if (++started === width) release();
            await gate;
            return rows[0]!;
          }),
        ),
      );
      expect(inScopes.map((r) => r.path)).toEqual(slugs.slice(0, width).map((s) => `tenant_${s}, extensions, public`));
      // ...then as many plain queries at once, which the pool hands those same connections.
      const outside = await Promise.all(
        Array.from(
          { length: width },
          () =>
            db.sql<{
              pid: number;
              path: string;
              who: string;
            }>`select pg_backend_pid() as pid, current_setting('search_path') as path, current_user as who`,
        ),
      );
      const rows = outside.map((r) => r.rows[0]!);
      expect(inScopes.map((r) => r.pid)).toEqual(expect.arrayContaining(rows.map((r) => r.pid)));
      for (const row of rows) {
        expect(row.path).not.toContain('tenant_');
        expect(row.who).toBe(appRole);
      }
      const error = await db.sql`select * from marker`.catch((e: unknown) => e);
      expect(error).toMatchObject({ sqlState: '42P01' });
    });
  });

  describe('withTenant', () => {
    it('runs the bound tag and the module-level sql in one transaction with the tenant search_path', async () => {
      const seen = await db.withTenant('iso2', async (scoped) => {
        expect(currentTenant()).toBe('iso2');
        const a = await scoped<{
          path: string;
          tx: string;
        }>`select current_setting('search_path') as path, txid_current()::text as tx`;
        const b = await sql<{ tenant: string; tx: string }>`select tenant, txid_current()::text as tx from marker`;
        return { ...a.rows[0]!, ...b.rows[0]!, sameTx: a.rows[0]!.tx === b.rows[0]!.tx };
      });
      expect(seen).toMatchObject({ path: 'tenant_iso2, extensions, public', tenant: 'iso2', sameTx: true });
      expect(currentTenant()).toBeUndefined();
    });

    it('commits on success and returns what fn returned', async () => {
      const value = await db.withTenant('iso3', async (scoped) => {
        await scoped`insert into events values (${1001}, 'iso3')`;
        return 'done';
      });
      expect(value).toBe('done');
      const { rows } = await db.sql`select op from tenant_iso3.events where op = 1001`;
      expect(rows).toHaveLength(1);
    });

    it('rolls back when fn throws and rethrows the original error', async () => {
      const original = new Error('boom');
      const error = await db
        .withTenant('iso3', async (scoped) => {
          await scoped`insert into events values (${1002}, 'iso3')`;
          throw original;
        })
        .catch((e: unknown) => e);
      expect(error).toBe(original);
      const { rows } = await db.sql`select op from tenant_iso3.events where op = 1002`;
      expect(rows).toHaveLength(0);
    });

    it('throws TenantNotFoundError for a tenant without a schema, whether or not fn catches the first failure', async () => {
      await expect(db.withTenant('ghost', (scoped) => scoped`select 1`)).rejects.toBeInstanceOf(TenantNotFoundError);
      await expect(
        db.withTenant('ghost', async (scoped) => {
          await scoped`select * from orders`.catch(() => undefined);
          return 'swallowed';
        }),
      ).rejects.toBeInstanceOf(TenantNotFoundError);
    });

    it('refuses a bad slug with InvalidSlugError before any SQL (even with no server)', async () => {
      const offline = new Database({ url: 'postgres://nobody:pw@127.0.0.1:1/none?connect_timeout=1' });
      // (keywords and pg_ names such as 'public' or 'pg_toast' are valid slugs: their schema is tenant_<slug>)
      for (const slug of ['Acme', 'ac-me', "a'b", 'a;drop', '', 'a'.repeat(57), 'tenant ', 'é', '1abc', 'a b']) {
        await expect(offline.withTenant(slug, (scoped) => scoped`select 1`)).rejects.toBeInstanceOf(InvalidSlugError);
      }
      await offline.end();
    });

    it('throws ScopeEndedError for a query through a scope that has ended', async () => {
      let kept: Sql | undefined;
      await db.withTenant('iso4', async (scoped) => {
        kept = scoped;
        await scoped`select 1`;
      });
      await expect(kept!`select 1`).rejects.toBeInstanceOf(ScopeEndedError);
      let keptUnused: Sql | undefined;
      await db.withTenant('iso4', (scoped) => {
        keptUnused = scoped;
      });
      await expect(keptUnused!`select 1`).rejects.toBeInstanceOf(ScopeEndedError);
    });

    it('reuses the scope for a nested call on the same tenant and refuses another tenant', async () => {
      await db.withTenant('iso1', async (outer) => {
        const a = await outer<{ tx: string }>`select txid_current()::text as tx`;
        const b = await db.withTenant('iso1', (inner) => inner<{ tx: string }>`select txid_current()::text as tx`);
        expect(b.rows[0]!.tx).toBe(a.rows[0]!.tx);
        await expect(db.withTenant('iso2', (inner) => inner`select 1`)).rejects.toBeInstanceOf(TenantScopeConflictError);
      });
    });

    it('refuses to report success when a swallowed error aborted the transaction, and keeps nothing', async () => {
      const error = await db
        .withTenant('iso5', async (scoped) => {
          await scoped`insert into events values (${2001}, 'iso5')`;
          await scoped`select * from no_such_table`.catch(() => undefined);
          return 'pretend';
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionAbortedError);
      const { rows } = await db.sql`select op from tenant_iso5.events where op = 2001`;
      expect(rows).toHaveLength(0);
    });

    it('costs nothing when fn runs no query', async () => {
      await expect(db.withTenant('ghost_never_queried', () => 7)).resolves.toBe(7);
    });

    it('keeps every tenant to itself under hundreds of concurrent scopes, some failing midway', async () => {
      await runIsolationScenario(db, slugs, fixture.concurrent ? 300 : 120);
    });
  });
});
