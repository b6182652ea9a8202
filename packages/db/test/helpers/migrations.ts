import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/database/database.js';
import type { Driver, QueryResult, Transaction } from '../../src/drivers/types.js';

/** Temporary migration directories for the runner tests; `cleanup()` removes them all. */
export function fixtureDirs() {
  const made: string[] = [];
  return {
    /** Writes `files` (name → SQL) into a new directory and returns its path. */
    dir(files: Record<string, string>): string {
      const dir = mkdtempSync(join(tmpdir(), 'cgk-migrations-'));
      made.push(dir);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      return dir;
    },
    cleanup(): void {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small tenant template: three files, the second with two statements. */
export const TENANT_FILES = {
  '001_orders.sql': 'create table orders (\n  id serial primary key,\n  total numeric not null default 0\n);\n',
  '002_customers.sql':
    'create table customers (id serial primary key, email text);\ncreate index customers_email_idx on customers (email);\n',
  '003_order_note.sql': 'alter table orders add column note text;\n',
};

/** Counts what a driver is asked to do (acquiring a session counts as one call and one statement). */
export interface Counter {
  /** Statements sent: one per query/exec/commit/rollback call, a `begin` counts its prelude plus one. */
  statements: number;
  /**
   * Calls made to the driver or a transaction (query, exec, begin, commit, rollback), one each. Not round trips:
   * calls sent together in a pipeline are counted one by one, although pg answers them in one round trip.
   */
  calls: number;
  reset(): void;
}

/** Wraps a driver so every statement it runs is counted; the wrapper is stable (the runner caches per driver). */
export function countingDriver(inner: Driver): { driver: Driver; counter: Counter } {
  const counter: Counter = {
    statements: 0,
    calls: 0,
    reset() {
      this.statements = 0;
      this.calls = 0;
    },
  };
  const count = <T>(statements: number, work: Promise<T>): Promise<T> => {
    counter.statements += statements;
    counter.calls += 1;
    return work;
  };
  const wrapTx = (tx: Transaction): Transaction => ({
    query: (statement) => count(1, tx.query(statement)),
    exec: (script) => count(1, tx.exec(script)),
    commit: () => count(1, tx.commit()),
    rollback: () => count(1, tx.rollback()),
  });
  const driver: Driver = {
    name: inner.name,
    query: (statement): Promise<QueryResult> => count(1, inner.query(statement)),
    exec: (script) => count(1, inner.exec(script)),
    begin: async (prelude) => {
      const { tx, results } = await count(prelude.length + 1, inner.begin(prelude));
      return { tx: wrapTx(tx), results };
    },
    acquire: async () => {
      const session = await count(1, inner.acquire());
      return {
        query: (statement) => count(1, session.query(statement)),
        exec: (script) => count(1, session.exec(script)),
        release: (destroy) => session.release(destroy),
      };
    },
    end: () => inner.end(),
  };
  return { driver, counter };
}

/** A `DriverSource` over a counted driver of `db`. */
export async function countedSource(db: Database) {
  const { driver, counter } = countingDriver(await db.driver());
  return { source: { driver: async () => driver }, counter };
}
