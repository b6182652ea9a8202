import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { loadOptional } from '../../optional.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { contribExtensions } from './extensions.js';
import { normalizeDriverError } from '../errors.js';
import { nodePostgresParsers } from './parsers.js';
import { pgliteSeedFor } from './seed.js';
import { settle } from '../results.js';
import { splitStatements } from '../../sql/split.js';
import { RELEASED, transactionOn } from '../session.js';
import type { Driver, QueryResult, Session, Settled, Statement } from '../types.js';

// An optional peer dependency, loaded with this module: the driver selection imports it only when the
// embedded PostgreSQL is chosen. Not installed: a ConfigError naming the package.
const pglite = await loadOptional('@electric-sql/pglite', () => import(/* webpackIgnore: true */ '@electric-sql/pglite'));

/** `shared_buffers` of the embedded PostgreSQL. */
export const PGLITE_SHARED_BUFFERS = '16MB';

/** Options for the embedded PostgreSQL driver. */
export interface PgliteDriverOptions {
  /** Directory holding the data; omitted = in memory (nothing persists). */
  dataDir?: string;
  /** Called once when another process holds `dataDir` and this one starts waiting for it. */
  onLockWait?: (holderPid: number) => void;
}

/**
 * The embedded PostgreSQL (PGlite: PostgreSQL compiled to WebAssembly, in this process). It has exactly one
 * connection, so this driver serialises work with a lock: a transaction holds the connection from BEGIN to
 * COMMIT and every other statement waits, which is what keeps one scope's `search_path` away from another.
 * Values parse as node-postgres parses them (its own parsers: int8 and numeric as strings, dates as local
 * Dates, intervals as objects), so code behaves the same on both drivers.
 */
export function createPgliteDriver(options: PgliteDriverOptions = {}): Driver {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const target = options.dataDir ? `embedded PostgreSQL at ${options.dataDir}` : 'embedded PostgreSQL (in memory)';
  const { PGlite: Embedded } = pglite;
  const parsers = nodePostgresParsers();
  // A new database is unpacked from the prepared archive when there is one (seed.ts), not made by initdb.
  // 16 MB of shared buffers instead of 128 MB: one connection and a development-sized database need no more,
  // and the embedded server's memory is this process's memory (docs/BENCHMARKS.md, "The embedded first run").
  const startParams = [...Embedded.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  // One process at a time on a data directory (data-dir-lock.ts); released by end() or at exit.
  let dirLock: DataDirLock | undefined;
  const ready = (options.dataDir ? lockDataDir(options.dataDir, undefined, options.onLockWait) : Promise.resolve(undefined)).then(
    async (taken) => {
      dirLock = taken;
      const [seed, extensions] = await Promise.all([pgliteSeedFor(options.dataDir), contribExtensions()]);
      const settings = { parsers, startParams, extensions, ...(seed ? { loadDataDir: seed } : {}) };
      const db = await Embedded.create(options.dataDir, settings).catch((error: unknown) => {
        dirLock?.release();
        throw error;
      });
      // PGlite derives each array type's parser from its element's while it starts; node-postgres has array
      // parsers of its own (numeric[] as numbers, though numeric is a string): theirs win, as on the pg driver.
      Object.assign(db.parsers, parsers);
      return db;
    },
  );
  // Surface an open failure on first use, not as an unhandled rejection.
  ready.catch(() => {});
  let tail: Promise<void> = Promise.resolve();
  let closed = false;

  /** Waits for the connection, runs `work`, then lets the next waiter in. */
  const lock = async (): Promise<{ db: PGlite; release: () => void }> => {
    let release!: () => void;
    const previous = tail;
    tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    if (closed) {
      release();
      throw normalizeDriverError(new Error('Client was closed and is not queryable'), target);
    }
    try {
      return { db: await ready, release };
    } catch (error) {
      release();
      throw normalizeDriverError(error, target);
    }
  };

  const run = async (db: PGlite, statement: Statement): Promise<QueryResult> => {
    try {
      return await runOn(db, statement);
    } catch (error) {
      throw normalizeDriverError(error, target);
    }
  };
  const exec = async (db: PGlite, script: string): Promise<void> => {
    try {
      await db.exec(script);
    } catch (error) {
      throw normalizeDriverError(error, target);
    }
  };

  /** The connection, held until release(): every other statement waits for it. */
  const acquire = async (): Promise<Session> => {
    const { db, release } = await lock();
    let released = false;
    const refuse = () => normalizeDriverError(new Error(RELEASED), target);
    return {
      query: async (statement) => (released ? Promise.reject(refuse()) : run(db, statement)),
      exec: async (script) => (released ? Promise.reject(refuse()) : exec(db, script)),
      release() {
        if (released) return;
        released = true;
        release();
      },
    };
  };

  return {
    name: 'pglite',
    maxConnections: 1,
    async query(statement) {
      const { db, release } = await lock();
      try {
        return await run(db, statement);
      } finally {
        release();
      }
    },
    async exec(script) {
      const { db, release } = await lock();
      try {
        await exec(db, script);
      } finally {
        release();
      }
    },
    async begin(prelude) {
      const session = await acquire();
      try {
        await session.query({ text: 'BEGIN' });
      } catch (error) {
        session.release();
        throw error;
      }
      const results: Settled[] = [];
      for (const statement of prelude) {
        results.push(await settle(session.query(statement), (error) => error as Error));
      }
      // PGlite's query() takes one statement (extended protocol): a reset goes as a script of its own.
      return { tx: transactionOn(session, undefined, false), results };
    },
    acquire,
    async end() {
      if (closed) return;
      const { db, release } = await lock().catch(() => ({ db: undefined, release: () => {} }));
      closed = true;
      release();
      if (db && !db.closed) await db.close();
      dirLock?.release();
    },
  };
}

/**
 * One statement on PGlite, in node-postgres's result shape. A parameterless text of several statements goes as
 * one simple query (PGlite's `query` takes one statement) and answers with the last statement's result, as
 * node-postgres does. PGlite describes a column by name and type only (no table, column, size, modifier, format).
 */
async function runOn(db: PGlite, statement: Statement): Promise<QueryResult> {
  const options = queryOptions(statement);
  if ((statement.values?.length ?? 0) === 0 && severalStatements(statement.text)) {
    const results = await db.exec(statement.text, options);
    const last = results[results.length - 1];
    const text = splitStatements(statement.text).at(-1)?.text ?? statement.text;
    const rows = (last?.rows ?? []) as Record<string, unknown>[];
    return {
      rows,
      rowCount: last?.affectedRows || rows.length,
      fields: (last?.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
      command: commandOf(text),
    };
  }
  const result = await db.query<Record<string, unknown>>(statement.text, statement.values as unknown[] | undefined, options);
  return {
    rows: result.rows,
    rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
    fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    command: result.command ?? commandOf(statement.text),
  };
}

/** Whether `text` holds more than one statement: a `;` followed by more text, then psql's own split to be sure. */
function severalStatements(text: string): boolean {
  const semicolon = text.indexOf(';');
  if (semicolon === -1 || text.slice(semicolon + 1).trim() === '') return false;
  return splitStatements(text).length > 1;
}

function commandOf(text: string): string {
  return /^\s*([a-z]+)/i.exec(text)?.[1]?.toUpperCase() ?? '';
}

const asText = (value: string) => value;
const textParsers = new WeakMap<readonly number[], Record<number, (value: string) => string>>();

/** PGlite's per-query options for a statement's row mode and text types (merged over the driver's parsers). */
type QueryOptions = { rowMode?: 'array'; parsers?: Record<number, (value: string) => string> };

function queryOptions(statement: Statement): QueryOptions | undefined {
  if (!statement.rowMode && !statement.textTypes) return undefined;
  let parsers = statement.textTypes && textParsers.get(statement.textTypes);
  if (statement.textTypes && !parsers) {
    parsers = Object.fromEntries(statement.textTypes.map((oid) => [oid, asText]));
    textParsers.set(statement.textTypes, parsers);
  }
  return { ...(statement.rowMode ? { rowMode: statement.rowMode } : {}), ...(parsers ? { parsers } : {}) };
}
