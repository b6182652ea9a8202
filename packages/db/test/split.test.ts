import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineAt } from '../src/migrations/files.js';
import { splitStatements } from '../src/migrations/split.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

const texts = (script: string) => splitStatements(script).map((s) => s.text);

describe('splitStatements: where psql -f would cut', () => {
  it('keeps a BEGIN ATOMIC body (with CASE ... END and parentheses inside) in one statement', () => {
    const script = `create function f(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
  select (x + 1);
end;
create or replace procedure p() language sql begin atomic insert into t values (1); end;
select 1`;
    expect(texts(script)).toEqual([
      'create function f(x int) returns int language sql\nbegin atomic\n  select case when x > 0 then 1 else 0 end;\n  select (x + 1);\nend',
      'create or replace procedure p() language sql begin atomic insert into t values (1); end',
      'select 1',
    ]);
  });

  it('counts BEGIN only in CREATE [OR REPLACE] FUNCTION/PROCEDURE, outside parentheses', () => {
    expect(texts('create table begin_end (begin int); select 1')).toEqual(['create table begin_end (begin int)', 'select 1']);
    expect(texts('do $$ begin perform 1; end $$; select 2')).toEqual(['do $$ begin perform 1; end $$', 'select 2']);
    // A statement that merely mentions FUNCTION later on is not a routine definition.
    expect(texts("create table function_log (x int); comment on function g(int) is 'x'; select 4")).toHaveLength(3);
  });

  it('does not cut inside parentheses (a rule with several actions)', () => {
    const script = 'create rule r as on insert to t do also (insert into a values (1); insert into b values (2)); select 5';
    expect(texts(script)).toEqual([
      'create rule r as on insert to t do also (insert into a values (1); insert into b values (2))',
      'select 5',
    ]);
  });

  it('skips strings, quoted identifiers, dollar quotes and comments; keeps offsets in code points', () => {
    const script = [
      '-- header; not a statement',
      "create table a (t text default 'x;y''z');",
      '/* block; /* nested; */ still */ create function f() returns int language sql as $body$ select 1; $body$;',
      "select E'it\\'s;' , \"we;ird\", $$a;b$$, U&'d\\0061;', $é$ ; $é$;",
      'select $1, a$b$c, 1e5; select x$$y;',
      '  ;  -- empty',
    ].join('\n');
    const parts = splitStatements(script);
    expect(parts.map((p) => p.text)).toEqual([
      "create table a (t text default 'x;y''z')",
      'create function f() returns int language sql as $body$ select 1; $body$',
      "select E'it\\'s;' , \"we;ird\", $$a;b$$, U&'d\\0061;', $é$ ; $é$",
      'select $1, a$b$c, 1e5',
      'select x$$y',
    ]);
    expect(parts.map((p) => lineAt(script, p.offset + 1)?.line)).toEqual([2, 3, 4, 5, 5]);
    expect(lineAt(script, parts[1]!.offset + 1)?.column).toBe(34);
    expect(splitStatements("select '😀'; select 2")[1]!.offset).toBe(12);
  });

  it('runs an unterminated quote or comment to the end of the script', () => {
    expect(texts("select 'a; b")).toEqual(["select 'a; b"]);
    expect(texts('select 1 /* a; b')).toEqual(['select 1 /* a; b']);
    expect(texts('select $q$ a; b')).toEqual(['select $q$ a; b']);
    expect(texts(' \n -- only a comment\n ;; ')).toEqual([]);
  });
});

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
