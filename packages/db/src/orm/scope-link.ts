import type { Database } from '../database/database.js';
import type { QueryResult, Statement } from '../drivers/types.js';
import { NoTenantScopeError, OrmTransactionError } from '../errors/index.js';
import { currentScope, type ActiveScope } from '../scope/context.js';
import { processShared } from '../process/shared.js';

/**
 * What the Drizzle and Kysely adapters share: finding the tenant scope a query must run in, ORM
 * transactions as savepoints of the scope's transaction, and streaming through a SQL cursor.
 */

/** Options common to `tenantDrizzle()` and `tenantKysely()`. */
export interface TenantOrmOptions {
  /** Only run in scopes of this database (`database.withTenant`); a query in any other scope is refused. */
  database?: Database;
}

/**
 * The scope the calling code runs in, for an ORM query: never undefined, and of `database` when given.
 * Throws `NoTenantScopeError` otherwise: an ORM bound to the scope never runs a query on the pool.
 */
export function scopeFor(orm: string, database: Database | undefined): ActiveScope {
  const scope = currentScope();
  if (!scope) throw new NoTenantScopeError(orm, false);
  if (database && scope.owner !== database) throw new NoTenantScopeError(orm, true);
  return scope;
}

/** Transaction settings an ORM may ask for; inside a scope none can be honoured by a savepoint. */
export interface OrmTransactionSettings {
  isolationLevel?: string;
  accessMode?: string;
  deferrable?: boolean;
}

// One per process (process/shared.ts): the ORMs of two bundled copies in one scope share its savepoint levels.
const roots = processShared('orm-savepoint-roots', () => new WeakMap<ActiveScope, SavepointLevel>());

/**
 * One level of ORM transactions in a scope: the scope's own transaction (depth 0), or a savepoint in it.
 * A level has at most one open child: a second ORM transaction opened beside it on the same connection would
 * interleave with the first, so it is refused.
 */
export class SavepointLevel {
  #child = false;

  private constructor(
    readonly scope: ActiveScope,
    readonly depth: number,
    private readonly parent?: SavepointLevel,
  ) {}

  /** The scope's own level (depth 0), shared by every ORM in that scope. */
  static of(scope: ActiveScope): SavepointLevel {
    let root = roots.get(scope);
    if (!root) roots.set(scope, (root = new SavepointLevel(scope, 0)));
    return root;
  }

  /** Runs one statement in the scope. */
  run(statement: Statement): Promise<QueryResult> {
    return this.scope.run(statement);
  }

  /** Opens a savepoint below this level (refused: settings, or a sibling still open). */
  async open(orm: string, settings: OrmTransactionSettings = {}): Promise<SavepointLevel> {
    refuseSettings(orm, settings);
    if (this.#child) {
      throw new OrmTransactionError(
        `A ${orm} transaction was started while another one is open in the same tenant scope`,
        'One scope is one connection: run ORM transactions one after the other (await each), ' +
          'or nest them through the transaction object.',
      );
    }
    this.#child = true;
    const level = new SavepointLevel(this.scope, this.depth + 1, this);
    try {
      await this.scope.run({ text: `savepoint ${level.name}` });
    } catch (error) {
      this.#child = false;
      throw error;
    }
    return level;
  }

  /** Keeps what this savepoint did (RELEASE). When that fails the savepoint stays open: roll it back. */
  async release(): Promise<void> {
    await this.scope.run({ text: `release savepoint ${this.name}` });
    if (this.parent) this.parent.#child = false;
  }

  /** Undoes what this savepoint did and drops it (ROLLBACK TO, then RELEASE). */
  async rollback(): Promise<void> {
    try {
      await this.scope.run({ text: `rollback to savepoint ${this.name}` });
      await this.scope.run({ text: `release savepoint ${this.name}` });
    } finally {
      if (this.parent) this.parent.#child = false;
    }
  }

  /** Runs `body` in a savepoint below this level: released when it resolves, rolled back when it throws. */
  async transaction<T>(
    orm: string,
    settings: OrmTransactionSettings | undefined,
    body: (level: SavepointLevel) => Promise<T>,
  ): Promise<T> {
    const level = await this.open(orm, settings);
    let result: T;
    try {
      result = await body(level);
    } catch (error) {
      // The body's error is the one to report; a rollback that fails leaves the scope's transaction aborted,
      // which the scope reports when it ends.
      await level.rollback().catch(() => {});
      throw error;
    }
    try {
      await level.release();
    } catch (error) {
      await level.rollback().catch(() => {});
      throw error;
    }
    return result;
  }

  get name(): string {
    return `cgk_orm_${this.depth}`;
  }
}

/** Throws `OrmTransactionError` when any setting is given. */
export function refuseSettings(orm: string, settings: OrmTransactionSettings): void {
  const asked = Object.entries(settings)
    .filter(([, value]) => value !== undefined)
    .map(([key]) => key);
  if (asked.length === 0) return;
  throw new OrmTransactionError(
    `${orm} transaction settings (${asked.join(', ')}) refused inside a tenant scope: the scope's transaction is already open, ` +
      'and an ORM transaction inside it is a savepoint, which has no isolation level or access mode of its own',
    'Drop the settings, or set them for the whole scope as its first statement (SET TRANSACTION ISOLATION LEVEL ...).',
  );
}

// Cursor names are unique per process: two bundled copies may stream in one scope.
const cursors = processShared('orm-cursor-count', () => ({ count: 0 }));

/**
 * Streams the rows of `statement` in chunks of `chunkSize` through a SQL cursor (`DECLARE ... NO SCROLL
 * CURSOR`, `FETCH n`): it runs on the scope's pipelined connection, where node-postgres's own cursor
 * cannot. The cursor is closed when the caller stops early; an error ends the stream with that error.
 * PostgreSQL declares cursors over queries only: a data-modifying statement (`INSERT/UPDATE/DELETE ...
 * RETURNING`, or a `WITH` holding one) runs whole, as node-postgres's cursor runs it at its first read, and its
 * rows are handed out in chunks of the same size.
 */
export async function* streamRows(
  level: SavepointLevel,
  statement: Statement,
  chunkSize: number,
): AsyncGenerator<Record<string, unknown>[]> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new TypeError(`chunkSize must be a positive integer, got ${String(chunkSize)}`);
  if (!isQuery(statement.text)) {
    const { rows } = await level.run(statement);
    for (let start = 0; start < rows.length; start += chunkSize) yield rows.slice(start, start + chunkSize);
    return;
  }
  const name = `cgk_cursor_${++cursors.count}`;
  await level.run({ ...statement, text: `declare ${name} no scroll cursor for ${statement.text}` });
  let failed = false;
  try {
    for (;;) {
      const { rows } = await level.run({ text: `fetch forward ${chunkSize} from ${name}` }).catch((error: unknown) => {
        failed = true;
        throw error;
      });
      if (rows.length > 0) yield rows;
      if (rows.length < chunkSize) return;
    }
  } finally {
    // After a failed FETCH the transaction is aborted and the cursor gone with it: nothing to close.
    if (!failed) await level.run({ text: `close ${name}` });
  }
}

const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()+/;

/**
 * Whether a cursor can be declared over `text`: a SELECT, VALUES or TABLE, or a WITH without a data-modifying
 * word anywhere (a word that only looks like one, in a string or a name, costs a buffered read, never an error).
 */
export function isQuery(text: string): boolean {
  const rest = text.replace(LEADING_NOISE, '');
  const first = /^[a-z]+/i.exec(rest)?.[0]?.toLowerCase();
  if (first === 'select' || first === 'values' || first === 'table') return true;
  return first === 'with' && !/\b(insert|update|delete|merge)\b/i.test(rest);
}
