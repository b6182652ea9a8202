import { describe, expect, it } from 'vitest';
import type { Statement } from '../src/drivers/types.js';
import { InvalidIdentifierError } from '../src/index.js';
import { createSql, identifier, toStatement } from '../src/sql/tag.js';

// The sql tag's text-building, without a database: what reaches the driver for each template.

const tag = (strings: TemplateStringsArray, ...values: unknown[]) => toStatement(strings, values);

describe('toStatement', () => {
  it('turns every interpolated value into a numbered parameter, never into text', () => {
    const hostile = "x'); drop table t; --";
    expect(tag`select ${1} as a, ${hostile} as b, ${null} as c`).toEqual({
      text: 'select $1 as a, $2 as b, $3 as c',
      values: [1, hostile, null],
    });
    expect(tag`select 1`).toEqual({ text: 'select 1', values: [] });
    expect(tag`${'only'}`).toEqual({ text: '$1', values: ['only'] });
  });

  it('passes objects, arrays and dates as values', () => {
    const at = new Date(0);
    const doc = { quoted: 'looks like an identifier' };
    expect(tag`insert into t values (${[1, 2]}, ${at}, ${doc})`).toEqual({
      text: 'insert into t values ($1, $2, $3)',
      values: [[1, 2], at, doc],
    });
  });

  it('splices identifiers that identifier() made, quoted, and numbers the values around them without gaps', () => {
    const statement = tag`select ${identifier('name')} from ${identifier('tenant_acme', 'orders')} where id = ${7} and s = ${'x'}`;
    expect(statement).toEqual({ text: 'select "name" from "tenant_acme"."orders" where id = $1 and s = $2', values: [7, 'x'] });
  });

  it('refuses a look-alike of an identifier: it goes as a value', () => {
    const forged = Object.freeze({ quoted: '"x"; drop table t; --' });
    expect(tag`select * from ${forged}`).toEqual({ text: 'select * from $1', values: [forged] });
  });
});

describe('identifier', () => {
  it('quotes each part and joins them with dots; the result is frozen', () => {
    expect(identifier('orders').quoted).toBe('"orders"');
    expect(identifier('a', 'b', 'c').quoted).toBe('"a"."b"."c"');
    expect(Object.isFrozen(identifier('orders'))).toBe(true);
  });

  it('refuses anything but plain lowercase identifiers, before any SQL', () => {
    for (const bad of ['Orders', 'a"b', 'a b', '', '1a', 'a'.repeat(64), 'é', 'a.b']) {
      expect(() => identifier(bad)).toThrow(InvalidIdentifierError);
    }
    expect(() => identifier('ok', 'Bad')).toThrow(InvalidIdentifierError);
    expect(identifier('_leading').quoted).toBe('"_leading"');
    expect(identifier('a'.repeat(63)).quoted).toBe(`"${'a'.repeat(63)}"`);
  });
});

describe('createSql', () => {
  it('sends the tagged template and sql.query(text, values) to its executor', async () => {
    const seen: Statement[] = [];
    const sql = createSql(async (statement) => {
      seen.push(statement);
      return { rows: [{ n: seen.length }], rowCount: 1, fields: [], command: 'SELECT' };
    });
    const first = await sql`select ${1}`;
    const second = await sql.query('select $1, $2', ['a', 'b']);
    const third = await sql.query('select 1');
    expect(seen).toEqual([
      { text: 'select $1', values: [1] },
      { text: 'select $1, $2', values: ['a', 'b'] },
      { text: 'select 1', values: [] },
    ]);
    expect([first.rows, second.rows, third.rows]).toEqual([[{ n: 1 }], [{ n: 2 }], [{ n: 3 }]]);
  });
});
