import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, QueryError, TransactionControlError, sql } from '../src/index.js';
import { DROP_TIMEOUT_MS } from './helpers/database.js';
import { driverFixtures } from './helpers/drivers.js';
import { createMarkedTenants } from './helpers/isolation.js';

interface Seen {
  path: string;
  role: string;
  tx: string;
  pid: number;
}

const SEEN = `select current_setting('search_path') as path, current_user::text as role, txid_current()::text as tx, pg_backend_pid() as pid`;

/** A lazy thenable, as an ORM's query builder is: its query is sent only when something calls then(). */
function lazyQuery(db: Database, text: string): PromiseLike<Seen> {
  return {
    then(resolve, reject) {
      return db.sql
        .query<Seen>(text)
        .then((result) => result.rows[0]!)
        .then(resolve, reject);
    },
  };
}

// Two ways a scope used to let a statement run outside its transaction, on every driver.
describe.each(driverFixtures)('scope holes on $name', (fixture) => {
  let db: Database;
  let teardown: () => Promise<void>;

  beforeAll(async () => {
    ({ db, teardown } = await fixture.setup());
    await createMarkedTenants(db, 'hole', 2);
  });
  afterAll(async () => {
    await teardown?.();
  }, DROP_TIMEOUT_MS);

  it('runs the query of a returned, un-awaited thenable inside the scope', async () => {
    const inside = await db.withTenant('hole0', (scoped) => scoped.query<Seen>(SEEN).then((r) => r.rows[0]!));
    const plain = await db.withTenant('hole0', () => lazyQuery(db, SEEN));
    expect(plain).toMatchObject({ path: 'tenant_hole0, extensions, public', role: inside.role });
    const fromAsync = await db.withTenant('hole0', async () => lazyQuery(db, SEEN));
    expect(fromAsync).toMatchObject({ path: 'tenant_hole0, extensions, public', role: inside.role });
    // A thenable that resolves to another thenable: both run in the scope.
    const chained = await db.withTenant(
      'hole1',
      () =>
        ({
          then(resolve: (value: PromiseLike<Seen>) => void) {
            resolve(lazyQuery(db, SEEN));
          },
        }) as unknown as PromiseLike<Seen>,
    );
    expect(chained.path).toBe('tenant_hole1, extensions, public');
    const outside = await lazyQuery(db, SEEN);
    expect(outside.path).not.toContain('tenant_');
  });

  it('refuses every statement that would end the transaction, sends nothing, and keeps the scope whole', async () => {
    const refused = [
      'commit',
      'COMMIT WORK',
      'commit and chain',
      'end',
      'abort',
      'rollback',
      'ROLLBACK AND CHAIN',
      'begin',
      'start transaction',
      "prepare transaction 'hole'",
      '/* a comment */ commit',
      '-- a line\nrollback',
      "insert into events values (900, 'hole0'); commit",
      "insert into events values (901, 'hole0');/**/ROLLBACK",
      'select \'a;b\', $$;$$, "x;" as y; end',
      "select E'\\''; commit; --'",
    ];
    const error = await db
      .withTenant('hole0', async (scoped) => {
        const first = await scoped.query<Seen>(SEEN);
        await scoped`insert into events values (${1}, 'hole0')`;
        for (const text of refused) {
          const refusal = await scoped.query(text).catch((e: unknown) => e);
          expect(refusal, text).toBeInstanceOf(TransactionControlError);
          expect(refusal, text).toMatchObject({ code: 'CGK_TRANSACTION_CONTROL' });
          // The module-level tag goes through the same scope.
          await expect(sql.query(text), text).rejects.toBeInstanceOf(TransactionControlError);
        }
        const after = await scoped.query<Seen>(SEEN);
        expect(after.rows[0]).toEqual(first.rows[0]);
        const { rows } = await scoped<{ op: number }>`select op from events order by op`;
        expect(rows.map((r) => r.op)).toEqual([1]);
        throw new Error('roll back');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('roll back');
    const { rows } = await db.sql`select op from tenant_hole0.events`;
    expect(rows).toEqual([]);
  });

  it('lets savepoints, and text that only mentions the words, through', async () => {
    const result = await db.withTenant('hole1', async (scoped) => {
      await scoped`savepoint a`;
      await scoped`insert into events values (${2}, 'hole1')`;
      await scoped.query('rollback to savepoint a');
      await scoped.query('release savepoint a');
      const words = await scoped.query<{ w: string; end: number }>(
        `select 'commit; rollback' as w, case when true then 1 end as "end" -- ; commit`,
      );
      return { words: words.rows[0], count: (await scoped`select count(*)::int as n from events`).rows[0] };
    });
    expect(result).toEqual({ words: { w: 'commit; rollback', end: 1 }, count: { n: 0 } });
  });

  it('leaves transaction control in a DO block or procedure to the server, which refuses it inside a transaction', async () => {
    const error = await db
      .withTenant('hole1', async (scoped) => {
        await scoped`insert into events values (${3}, 'hole1')`;
        await scoped.query('do $$ begin commit; end $$');
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryError);
    expect(error).toMatchObject({ sqlState: '2D000' });
    const { rows } = await db.sql`select op from tenant_hole1.events`;
    expect(rows).toEqual([]);
  });
});
