import { describe, expect, it } from 'vitest';
import { lineAt } from '../src/migrations/files.js';
import { splitStatements } from '../src/sql/split.js';

// The statement splitter as text, without a server: each case is a place where psql -f (src/bin/psql/psqlscan.l)
// cuts or does not cut. split.test.ts checks a few whole scripts against PostgreSQL's own parser.

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
    expect(texts('select "a; b')).toEqual(['select "a; b']);
    expect(texts("select E'a\\'; b")).toEqual(["select E'a\\'; b"]);
    expect(texts('select 1 /* a; b')).toEqual(['select 1 /* a; b']);
    expect(texts('select 1 /* a /* b */; c')).toEqual(['select 1 /* a /* b */; c']);
    expect(texts('select $q$ a; b')).toEqual(['select $q$ a; b']);
    expect(texts('select $q$ a; $r$; b')).toEqual(['select $q$ a; $r$; b']);
    expect(texts(' \n -- only a comment\n ;; ')).toEqual([]);
    expect(texts('')).toEqual([]);
    expect(texts('-- no newline; at the end')).toEqual([]);
  });
});

describe('splitStatements: the lexer, token by token', () => {
  it('gives each statement its text without the semicolon and its offset in code points', () => {
    expect(splitStatements('select 1;select 2 ;\n\n  select 3')).toEqual([
      { text: 'select 1', offset: 0 },
      { text: 'select 2 ', offset: 9 },
      { text: 'select 3', offset: 23 },
    ]);
    // Whitespace of every kind separates tokens and is not part of a statement's start.
    expect(splitStatements('\t\r\n\f\v select 1')).toEqual([{ text: 'select 1', offset: 6 }]);
    expect(splitStatements('😀; select 1')).toEqual([
      { text: '😀', offset: 0 },
      { text: 'select 1', offset: 3 },
    ]);
  });

  it('takes a lone minus or slash for an operator, two minus signs or slash-star for a comment', () => {
    expect(texts('select 5 -1; select 2')).toEqual(['select 5 -1', 'select 2']);
    expect(texts('select 5 - 1; select 2')).toEqual(['select 5 - 1', 'select 2']);
    expect(texts('select 6 /2; select 2')).toEqual(['select 6 /2', 'select 2']);
    expect(texts('select 6 * /* c; */ 2; select 3')).toEqual(['select 6 * /* c; */ 2', 'select 3']);
    expect(texts('select 1 -- a; b\n; select 2')).toEqual(['select 1 -- a; b\n', 'select 2']);
    expect(texts('select 1 --\n; select 2 -- x')).toEqual(['select 1 --\n', 'select 2 -- x']);
  });

  it('nests block comments as PostgreSQL does', () => {
    expect(texts('/* a /* b */ c; */ select 1; select 2')).toEqual(['select 1', 'select 2']);
    expect(texts('/* a /* b /* c */ d; */ e; */ select 1')).toEqual(['select 1']);
    expect(texts('/**/select 1;/***/ select 2')).toEqual(['select 1', 'select 2']);
    // "/*/" opens a comment and does not close it.
    expect(texts('/*/ ; */ select 1; select 2')).toEqual(['select 1', 'select 2']);
    expect(texts('select 1 /* a */; select 2 /* b /* c */ d */; select 3')).toEqual([
      'select 1 /* a */',
      'select 2 /* b /* c */ d */',
      'select 3',
    ]);
    // A star before the slash ends only the innermost level.
    expect(texts('/* x /* y **/ z; */ select 1')).toEqual(['select 1']);
  });

  it('reads a doubled quote as the quote itself, in strings and in quoted identifiers', () => {
    expect(texts("select 'a''; b'; select 2")).toEqual(["select 'a''; b'", 'select 2']);
    expect(texts("select ''''; select 2")).toEqual(["select ''''", 'select 2']);
    expect(texts("select ''; select 2")).toEqual(["select ''", 'select 2']);
    expect(texts('select "a""; b"; select 2')).toEqual(['select "a""; b"', 'select 2']);
    expect(texts('select "x\'y"; select \'"\'; select 3')).toEqual(['select "x\'y"', "select '\"'", 'select 3']);
  });

  it('lets a backslash escape only in E strings (E or e, not the end of a longer word)', () => {
    // A standard string: the backslash is an ordinary character.
    expect(texts("select '\\'; select 2")).toEqual(["select '\\'", 'select 2']);
    expect(texts('select "\\"; select 2')).toEqual(['select "\\"', 'select 2']);
    expect(texts("select E'\\'; x'; select 2")).toEqual(["select E'\\'; x'", 'select 2']);
    expect(texts("select e'\\'; x'; select 2")).toEqual(["select e'\\'; x'", 'select 2']);
    expect(texts("select E'\\\\'; select 2")).toEqual(["select E'\\\\'", 'select 2']);
    // The E of a longer word does not make an escape string.
    expect(texts("select xe'\\'; select 2")).toEqual(["select xe'\\'", 'select 2']);
    expect(texts("select 1e'\\'; select 2")).toEqual(["select 1e'\\'", 'select 2']);
    // A quote after a blank, a parenthesis or at the very start is a standard string all the same.
    expect(texts("select  '\\'; select 2")).toEqual(["select  '\\'", 'select 2']);
    expect(texts("select ('\\'); select 2")).toEqual(["select ('\\')", 'select 2']);
    expect(texts("'\\'; select 2")).toEqual(["'\\'", 'select 2']);
    // A doubled quote inside an E string does not end it: the backslash after it still escapes.
    expect(texts("select E'a''\\';'; select 2")).toEqual(["select E'a''\\';'", 'select 2']);
    // An E string at the very start of the script, and right after another statement.
    expect(texts("E'\\'; x'; select 2")).toEqual(["E'\\'; x'", 'select 2']);
    expect(texts("select 1;E'\\';';select 2")).toEqual(['select 1', "E'\\';'", 'select 2']);
    expect(texts("select (E'\\');'); select 2")).toEqual(["select (E'\\');')", 'select 2']);
  });

  it('reads dollar quotes with tags, and tells them from parameters and identifiers', () => {
    expect(texts('select $$a; b$$; select 2')).toEqual(['select $$a; b$$', 'select 2']);
    expect(texts('select $tag$a; $$; $x$ b$tag$; select 2')).toEqual(['select $tag$a; $$; $x$ b$tag$', 'select 2']);
    // Every character a tag may hold after its first: letters of both cases, digits, "_", non-ASCII.
    for (const tag of ['xAZ', 'xaz', 'x09', 'x_', '_x', 'Ax', 'Zx', 'ax', 'zx', 'éx', 'x\u0080', 'x\u{10FFFF}', 'x😀']) {
      expect(texts(`select $${tag}$ ; $${tag}$; select 2`), tag).toEqual([`select $${tag}$ ; $${tag}$`, 'select 2']);
    }
    // A tag does not start with a digit, and "-" or "$" inside do not continue it.
    expect(texts('select $1$; $1$; select 2')).toEqual(['select $1$', '$1$', 'select 2']);
    expect(texts('select $a-$; select 2')).toEqual(['select $a-$', 'select 2']);
    // The closing tag must be the same tag: another one, or the same letters in another case, is body.
    expect(texts('select $a$ ; $b$ ; $A$ ; $a$; select 2')).toEqual(['select $a$ ; $b$ ; $A$ ; $a$', 'select 2']);
    // A "$" right after an identifier character is part of the identifier, not a quote.
    expect(texts('select a$$; select 2$$')).toEqual(['select a$$', 'select 2$$']);
    expect(texts('select 1$a$; select 2$a$')).toEqual(['select 1$a$', 'select 2$a$']);
    // A dollar quote right at the start of the script, and one after a parenthesis.
    expect(texts('$$;$$; select 2')).toEqual(['$$;$$', 'select 2']);
    expect(texts('select ($$;$$); select 2')).toEqual(['select ($$;$$)', 'select 2']);
    // A lone "$", and parameters.
    expect(texts('select $; select $12; select $')).toEqual(['select $', 'select $12', 'select $']);
  });

  it('continues after a dollar quote at the right place, counting code points', () => {
    expect(splitStatements('select $x$😀;😀$x$; select 2')).toEqual([
      { text: 'select $x$😀;😀$x$', offset: 0 },
      { text: 'select 2', offset: 18 },
    ]);
    expect(splitStatements('select $é$a$é$;select 2;')).toEqual([
      { text: 'select $é$a$é$', offset: 0 },
      { text: 'select 2', offset: 15 },
    ]);
    // The text right after the closing tag is read as SQL again: a quote there opens a string.
    expect(texts("select $$a$$';'; select 2")).toEqual(["select $$a$$';'", 'select 2']);
    expect(texts('select $$$$; select 2')).toEqual(['select $$$$', 'select 2']);
  });

  it('steps over numbers and identifiers whole', () => {
    expect(texts('select 1e5; select 2')).toEqual(['select 1e5', 'select 2']);
    // A number followed by e and a quote: "1e" is one token, so the quote is a standard string.
    expect(texts("select 12e'\\'; select 2")).toEqual(["select 12e'\\'", 'select 2']);
    expect(texts('select 3$$; select 4')).toEqual(['select 3$$', 'select 4']);
    expect(texts('select $1$$; select 4')).toEqual(['select $1$$', 'select 4']);
    expect(texts('select é$$; select 4')).toEqual(['select é$$', 'select 4']);
  });

  it('does not let an unbalanced closing parenthesis go below zero', () => {
    expect(texts('select 1); select 2')).toEqual(['select 1)', 'select 2']);
    expect(texts('select ((1); select 2); select 3')).toEqual(['select ((1); select 2)', 'select 3']);
    expect(texts('select (1)); select 2')).toEqual(['select (1))', 'select 2']);
    // Only ")" closes: operators and commas inside parentheses do not.
    expect(texts('select (1 + 2, 3 * 4; 5 = 6); select 7')).toEqual(['select (1 + 2, 3 * 4; 5 = 6)', 'select 7']);
  });
});

describe('splitStatements: BEGIN ... END bodies of SQL-standard routines', () => {
  const body = 'begin atomic select 1; select 2; end';

  it('recognises CREATE FUNCTION, CREATE PROCEDURE and CREATE OR REPLACE of either, in any case', () => {
    for (const head of [
      'create function f()',
      'create procedure p()',
      'create or replace function f()',
      'create or replace procedure p()',
      'CREATE FUNCTION f()',
      'Create Or Replace Procedure p()',
      // A number (even one ending in "e") is not a word: FUNCTION is still the second word.
      'create 1e function f()',
    ]) {
      expect(texts(`${head} ${body}; select 3`), head).toEqual([`${head} ${body}`, 'select 3']);
    }
  });

  it('needs CREATE first and OR REPLACE complete, among the first four words', () => {
    for (const head of [
      'create table f',
      'create or function f',
      'create or xyz function f',
      'create replace function f',
      'create x function f',
      'create x replace function f',
      'create publication p for table',
      'alter function f',
      'function create f',
      'or create function f',
      'create or replace view f',
      'create or replace x function',
      'x create function f',
    ]) {
      expect(texts(`${head} ${body}; select 3`), head).toEqual([`${head} begin atomic select 1`, 'select 2', 'end', 'select 3']);
    }
  });

  it('starts counting words again at each statement', () => {
    const script = `select 1; create function f() ${body}; select 3`;
    expect(texts(script)).toEqual(['select 1', `create function f() ${body}`, 'select 3']);
    // The words of a statement before are forgotten: "create" there does not make "function" here a routine.
    expect(texts(`create; function f() ${body}`)).toEqual(['create', 'function f() begin atomic select 1', 'select 2', 'end']);
    // Nor do they linger: after "create function x;", "select" is the first word of a new statement.
    expect(texts('create function x; select begin; select 2')).toEqual(['create function x', 'select begin', 'select 2']);
    // Words in parentheses count, as in psql.
    expect(texts(`create (x) function f() ${body}`)).toEqual([
      'create (x) function f() begin atomic select 1',
      'select 2',
      'end',
    ]);
  });

  it('nests CASE inside a body, and ignores CASE and END outside one', () => {
    expect(texts('create function f() begin atomic select case when true then 1 end; select 2; end; select 3')).toEqual([
      'create function f() begin atomic select case when true then 1 end; select 2; end',
      'select 3',
    ]);
    // Nested bodies and CASE in CASE.
    expect(
      texts('create function f() begin atomic select case case 1 when 1 then 1 end when 1 then 2 end; end; select 3'),
    ).toEqual(['create function f() begin atomic select case case 1 when 1 then 1 end when 1 then 2 end; end', 'select 3']);
    expect(texts('create function f() begin begin; end; select 2; end; select 3')).toEqual([
      'create function f() begin begin; end; select 2; end',
      'select 3',
    ]);
    // Before BEGIN, CASE does not open anything and END closes nothing.
    expect(texts('create function case; select 1')).toEqual(['create function case', 'select 1']);
    expect(texts('create function end; select 1')).toEqual(['create function end', 'select 1']);
    expect(texts('create function f() return case when true then 1 end; select 1')).toEqual([
      'create function f() return case when true then 1 end',
      'select 1',
    ]);
  });

  it('counts BEGIN, CASE and END only at parenthesis depth zero, and only as whole words', () => {
    expect(texts('create function f(begin int); select 1')).toEqual(['create function f(begin int)', 'select 1']);
    expect(texts('create function f() begin atomic select (1); select (case when true then 1 end); end; select 3')).toEqual([
      'create function f() begin atomic select (1); select (case when true then 1 end); end',
      'select 3',
    ]);
    expect(texts('create function f() begin atomic select (end); end; select 3')).toEqual([
      'create function f() begin atomic select (end); end',
      'select 3',
    ]);
    expect(texts('create function beginning(); select 1')).toEqual(['create function beginning()', 'select 1']);
    expect(texts('create function f() begin atomic select 1 as ending; select 2; end; select 3')).toEqual([
      'create function f() begin atomic select 1 as ending; select 2; end',
      'select 3',
    ]);
    // Quoted, they are identifiers.
    expect(texts('create function "begin"(); select 1')).toEqual(['create function "begin"()', 'select 1']);
  });
});
