import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitStatements } from '../src/sql/split.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

// The server-free cases of the splitter are in split-text.test.ts (they are part of the mutation run).

/**
 * The server is the judge: each script, sent whole as one simple-protocol message, gives one result per
 * statement; sent statement by statement as split here, it must give the same number of statements, each
 * accepted on its own, and the same final state.
 */
describe('splitStatements agrees with PostgreSQL', () => {
  let database: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    database = await createTestDatabase('cgk_split');
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  const scripts: Record<string, string> = {
    'BEGIN ATOMIC bodies': `create table t (x int);
create function f(x int) returns int language sql begin atomic select case when x > 0 then 1 else 0 end; end;
create procedure p(v int) language sql begin atomic insert into t values (v); insert into t values (v + 1); end;
call p(1); select f(2);`,
    'a rule with two actions': `create table a (x int); create table b (x int); create table t (x int);
create rule r as on insert to t do also (insert into a values (new.x); insert into b values (new.x));
insert into t values (1); select (select count(*) from a) + (select count(*) from b) as n`,
    'quotes, comments and dollar quotes': `-- c;
create table "se;mi" (t text default 'a;''b'); /* x; /* y; */ z */
insert into "se;mi" values (E'\\';'), ($tag$;$$;$tag$);
create function g() returns text language plpgsql as $$ begin return 'x;'; end $$; select g();`,
  };

  for (const [name, script] of Object.entries(scripts)) {
    it(name, async () => {
      await client.query('begin');
      const whole = (await client.query(script)) as unknown as pg.QueryResult[] | pg.QueryResult;
      const wholeCount = Array.isArray(whole) ? whole.length : 1;
      const wholeLast = Array.isArray(whole) ? whole.at(-1)!.rows : whole.rows;
      await client.query('rollback');
      await client.query('begin');
      const parts = splitStatements(script);
      let last: unknown[] = [];
      for (const part of parts) last = (await client.query(part.text)).rows;
      await client.query('rollback');
      expect(parts.length).toBe(wholeCount);
      expect(last).toEqual(wholeLast);
    });
  }
});
