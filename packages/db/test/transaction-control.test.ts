import { describe, expect, it } from 'vitest';
import { findTransactionControl } from '../src/scope/transaction-control.js';

// The scanner decides what a tenant scope refuses; the behaviour suite checks the same texts against every
// driver's real server. Here: the lexical cases, one by one, with the statement each one hides.
describe('findTransactionControl', () => {
  it.each([
    ['commit', 'commit'],
    ['COMMIT', 'commit'],
    ['CoMmIt WORK', 'commit'],
    ['commit and chain', 'commit'],
    ['end', 'end'],
    ['END TRANSACTION', 'end'],
    ['abort', 'abort'],
    ['rollback', 'rollback'],
    ['rollback and chain', 'rollback'],
    ['ROLLBACK WORK', 'rollback'],
    ["rollback prepared 'x'", 'rollback'],
    ['begin', 'begin'],
    ['begin isolation level serializable', 'begin'],
    ['start transaction', 'start'],
    ["prepare transaction 't1'", 'prepare transaction'],
    ["commit prepared 't1'", 'commit'],
    ['  \n\t commit', 'commit'],
    ['/* hello */ commit', 'commit'],
    ['/* nested /* comment */ still */ commit', 'commit'],
    ['-- a line comment\ncommit', 'commit'],
    ['-- a line comment\rcommit', 'commit'],
    ['select 1; commit', 'commit'],
    ['select 1;commit;select 2', 'commit'],
    ['select 1;/**/ROLLBACK', 'rollback'],
    ["select 'a;b'; commit", 'commit'],
    ["select 'it''s'; commit", 'commit'],
    ['select "a""b;"; end', 'end'],
    ['select $$ ; $$; commit', 'commit'],
    ['select $q$ $$ ; $q$; commit', 'commit'],
    ['select $1::int; commit', 'commit'],
    ["select E'\\''; commit; --'", 'commit'],
    ["select e'\\\\'; commit", 'commit'],
    // With standard_conforming_strings off a backslash escapes the quote: both readings are checked.
    ["select '\\'; commit; --'", 'commit'],
    ["select '\\''; commit; --'", 'commit'],
    // B'' and X'' strings have no escapes in either mode, mixed with an escaping one.
    ["select '\\'', b'\\'; commit; --'", 'commit'],
    // A string continued after a newline keeps its mode (E'' here).
    ["select e'a'\n'\\''; commit; --'", 'commit'],
    ["select 'a' -- c\n 'b'; commit", 'commit'],
    ['select 1 as x; begin', 'begin'],
    ['select 1; start transaction read only', 'start'],
    ["select 1 ; prepare transaction 'p'", 'prepare transaction'],
    ['select a$a$; commit --$a$', 'commit'],
    ['select 1e5; end', 'end'],
  ])('finds transaction control in %j', (text, found) => {
    expect(findTransactionControl(text)).toBe(found);
  });

  it.each([
    'select 1',
    "select 'commit'",
    "select 'x; commit'",
    'select $$; commit$$',
    'select $tag$; commit; $not$ still $tag$',
    'select "commit"',
    'select 1 as "x; commit"',
    'select 1 -- ; commit',
    'select 1 /* ; commit */',
    'select 1 /* /* ; */ commit */',
    'select case when true then 1 end',
    'savepoint a',
    'release savepoint a',
    'release a',
    'rollback to savepoint a',
    'rollback to a',
    'ROLLBACK WORK TO SAVEPOINT a',
    'rollback transaction to a',
    'prepare q as select 1',
    'select pending, vendor, started_at from orders',
    'select a$commit$ from t',
    "select e'\\'; commit; --'",
    'do $$ begin commit; end $$',
    "select 'a'\n'; commit'",
    "select x'00'; select b'1'",
    'select constructor from t',
    // After a number `$a$` opens a dollar quote, as in PostgreSQL's lexer.
    'select 1$a$; commit --$a$',
  ])('finds none in %j', (text) => {
    expect(findTransactionControl(text)).toBeUndefined();
  });
});
