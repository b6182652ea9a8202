import { quoteIdentifier } from './identifier.js';
import type { QueryResult, Statement } from '../drivers/types.js';
import { processShared } from '../process/shared.js';

/** A row as the sql tag returns it when no row type is given. */
export type Row = Record<string, unknown>;

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
  /** Runs `text` with `$1..$n` placeholders and their values, as @vercel/postgres's `sql.query`. */
  query<R = Row>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
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

/** Builds a `sql` tag whose statements all go to `execute`. */
export function createSql(execute: Executor): Sql {
  const tag = (strings: TemplateStringsArray, ...values: unknown[]) => execute(toStatement(strings, values));
  const query = (text: string, values: readonly unknown[] = []) => execute({ text, values });
  return Object.assign(tag, { query }) as Sql;
}
