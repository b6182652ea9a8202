import { quoteIdentifier } from './identifier.js';
import type { QueryResult, Statement } from '../drivers/types.js';
import { processShared } from '../process/shared.js';
import { SqlCallError } from '../errors/index.js';

/**
 * A row as the sql tag returns it when no row type is given: `any` per column, on purpose, as node-postgres's
 * and `@vercel/postgres`'s `QueryResultRow` (`{ [column: string]: any }`), so that code ported from them compiles
 * unchanged (`rows[0].total * 2`). This is the one `any` of the public surface: give the row type
 * (`sql<{ id: string }>`...) to have each column checked.
 */
// biome-ignore lint/suspicious/noExplicitAny: the contract users port from (pg's QueryResultRow); see above
export type Row = Record<string, any>;

/** `sql.query`'s config form, as node-postgres's `QueryConfig`: the text, its values, and optionally array rows. */
export interface SqlQueryConfig {
  text: string;
  values?: readonly unknown[];
  /** `'array'`: each row is an array of values in column order (pg's `rowMode`). */
  rowMode?: 'array';
  /** A prepared statement's name (pg): ignored; every statement runs unnamed, so nothing outlives its scope. */
  name?: string;
}

/**
 * The `sql` tag, with the contract of `@vercel/postgres`: every interpolated value becomes a `$n` parameter
 * (never text), and the promise resolves to `{ rows, rowCount, fields, command }`.
 *
 * @example
 * const { rows } = await sql<{ id: string }>`select id from orders where status = ${status}`;
 * const same = await sql.query<{ id: string }>('select id from orders where status = $1', [status]);
 */
export interface Sql {
  <R = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<QueryResult<R>>;
  /**
   * Runs `text` with `$1..$n` placeholders and their values, as @vercel/postgres's `sql.query`; also takes pg's
   * config form `sql.query({ text, values })`. A text of several statements (no values) answers with the last
   * one's result, as node-postgres and psql do.
   */
  query<R = Row>(text: string | SqlQueryConfig, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** Runs one statement somewhere: a pool, or a tenant scope's transaction. */
export type Executor = (statement: Statement) => Promise<QueryResult>;

/** A validated SQL identifier; interpolated into the text (quoted) instead of becoming a parameter. */
export interface SqlIdentifier {
  readonly quoted: string;
}

/**
 * The identifiers `identifier()` made. Only these are spliced: an object of the same shape built anywhere
 * else is refused, so the sql tag cannot be talked into splicing text that was never validated. One set per
 * process (process/shared.ts), so an identifier made by one bundled copy of the library passes another's tag.
 */
const validated = processShared('validated-identifiers', () => new WeakSet<SqlIdentifier>());

/**
 * The one way to put a name (schema, table, column) where SQL needs an identifier rather than a value.
 * Only plain lowercase identifiers pass (`[a-z_][a-z0-9_]*`, at most 63 bytes); anything else throws
 * `InvalidIdentifierError` before any SQL is sent. Pass several parts for a qualified name.
 *
 * @example
 * await sql`select count(*) from ${identifier('tenant_acme', 'orders')}`;
 */
export function identifier(...parts: [string, ...string[]]): SqlIdentifier {
  const id: SqlIdentifier = Object.freeze({ quoted: parts.map(quoteIdentifier).join('.') });
  validated.add(id);
  return id;
}

/** Turns a tagged template into text with `$1..$n` and the values array. Identifiers are spliced quoted. */
export function toStatement(strings: TemplateStringsArray, values: readonly unknown[]): Statement {
  let text = strings[0] ?? '';
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'object' && value !== null && validated.has(value as SqlIdentifier)) {
      text += (value as SqlIdentifier).quoted;
    } else {
      params.push(value);
      text += `$${params.length}`;
    }
    text += strings[i + 1] ?? '';
  }
  return { text, values: params };
}

/**
 * Builds a `sql` tag whose statements all go to `execute`. Called as a plain function (`sql('...')`,
 * `sql(['...'])`) it throws `SqlCallError` before anything is sent, as `@vercel/postgres` does.
 */
export function createSql(execute: Executor): Sql {
  const tag = (strings: TemplateStringsArray, ...values: unknown[]) => {
    if (!isTemplateStrings(strings)) return Promise.reject(notTagged(strings));
    return execute(toStatement(strings, values));
  };
  const query = (text: string | SqlQueryConfig, values?: readonly unknown[]) => {
    try {
      return execute(queryStatement(text, values));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return Object.assign(tag, { query }) as Sql;
}

/** What a tagged template passes: an array of strings with its `raw` twin (a plain call passes neither). */
function isTemplateStrings(strings: unknown): strings is TemplateStringsArray {
  return Array.isArray(strings) && Array.isArray((strings as { raw?: unknown }).raw);
}

function notTagged(given: unknown): SqlCallError {
  const what = typeof given === 'string' ? 'a string' : Array.isArray(given) ? 'an array' : `${describeType(given)}`;
  return new SqlCallError(
    `sql was called as a function with ${what}; it is a tagged template: sql\`select ... where id = \${id}\``,
    'Write sql`...` (each interpolated value becomes a parameter), or sql.query(text, values) for a text built elsewhere.',
  );
}

function describeType(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

/** `sql.query`'s arguments as a statement: `(text, values)` or pg's `({ text, values, rowMode })`. */
function queryStatement(text: string | SqlQueryConfig, values: readonly unknown[] | undefined): Statement {
  if (typeof text === 'string') return { text, values: checkedValues(values) };
  if (typeof text === 'object' && text !== null && typeof text.text === 'string') {
    const statement: Statement = { text: text.text, values: checkedValues(values ?? text.values) };
    if (text.rowMode === 'array') statement.rowMode = 'array';
    return statement;
  }
  throw new SqlCallError(
    `sql.query() needs a text or a { text, values } config, not ${describeType(text)}`,
    "Call sql.query('select ... where id = $1', [id]) or sql.query({ text, values }).",
  );
}

function checkedValues(values: readonly unknown[] | undefined): unknown[] {
  if (values === undefined) return [];
  if (!Array.isArray(values)) {
    throw new SqlCallError(
      `sql.query() values must be an array, not ${describeType(values)}`,
      'Pass the values of $1..$n as an array: sql.query(text, [a, b]).',
    );
  }
  return values;
}
