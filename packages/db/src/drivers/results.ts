import type { FieldDef, QueryResult, Settled, Statement } from './types.js';

/**
 * Pieces shared by the drivers built on node-postgres's API (pg itself, and the copy inside Neon's
 * serverless driver): their results, their errors, and settling a statement sent in a batch.
 */

/** The part of a node-postgres result this library reads. */
export interface NodePostgresResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  fields: FieldDef[];
  command: string;
}

/**
 * A node-postgres result in this library's shape. A parameterless text holding several statements runs as
 * one simple query, answered with one result per statement: the last is what the caller asked for (as psql
 * shows it).
 */
export function toResult(answer: NodePostgresResult | NodePostgresResult[]): QueryResult {
  const result = Array.isArray(answer) ? answer[answer.length - 1]! : answer;
  return {
    rows: result.rows,
    rowCount: result.rowCount ?? result.rows.length,
    // node-postgres's seven properties, copied (its objects are shared by every result of a prepared shape).
    fields: result.fields.map((f) => ({
      name: f.name,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeID: f.dataTypeID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: f.format,
    })),
    command: result.command,
  };
}

/** Waits for one statement of a batch and reports its outcome instead of throwing, errors normalised by `normalize`. */
export async function settle(promise: Promise<QueryResult>, normalize: (error: unknown) => Error): Promise<Settled> {
  try {
    return { ok: true, result: await promise };
  } catch (error) {
    return { ok: false, error: normalize(error) };
  }
}

/** node-postgres's type parser lookup: pg's `types`, or the copy inside Neon's client. */
export interface TypeParsers {
  getTypeParser(oid: number, format?: string): (value: string) => unknown;
}

/** A node-postgres query config: what `client.query()` takes when a statement asks for more than text. */
export interface NodePostgresQueryConfig {
  text: string;
  rowMode?: 'array';
  types?: TypeParsers;
}

const asText = (value: string) => value;
const textParsers = new WeakMap<TypeParsers, WeakMap<readonly number[], TypeParsers>>();

/**
 * What to hand node-postgres's `client.query(_, values)` for `statement`: the bare text (the common case), or
 * a config with its row mode and, for `textTypes`, per-query parsers that leave those types as text and
 * parse every other type with `defaults` (the process-wide parsers are never changed).
 */
export function nodePostgresQuery(statement: Statement, defaults: TypeParsers): string | NodePostgresQueryConfig {
  if (!statement.rowMode && !statement.textTypes) return statement.text;
  const config: NodePostgresQueryConfig = { text: statement.text };
  if (statement.rowMode) config.rowMode = statement.rowMode;
  if (statement.textTypes) {
    let byList = textParsers.get(defaults);
    if (!byList) textParsers.set(defaults, (byList = new WeakMap()));
    let types = byList.get(statement.textTypes);
    if (!types) {
      const raw = new Set(statement.textTypes);
      types = { getTypeParser: (oid, format) => (raw.has(oid) ? asText : defaults.getTypeParser(oid, format)) };
      byList.set(statement.textTypes, types);
    }
    config.types = types;
  }
  return config;
}
