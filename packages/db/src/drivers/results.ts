import type { QueryResult, Settled } from './types.js';

/**
 * Pieces shared by the drivers built on node-postgres's API (pg itself, and the copy inside Neon's
 * serverless driver): their results, their errors, and settling a statement sent in a batch.
 */

/** The part of a node-postgres result this library reads. */
export interface NodePostgresResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
  fields: { name: string; dataTypeID: number }[];
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
    fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
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
