import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type KyselyConfig,
  type QueryResult as KyselyQueryResult,
  type TransactionSettings,
} from 'kysely';
import type { QueryResult } from '../drivers/types.js';
import { SavepointLevel, scopeFor, streamRows, type TenantOrmOptions } from './scope-link.js';

/**
 * `@cgk/db/kysely`: Kysely inside the tenant scope. A Kysely dialect whose "connection" is the current
 * `withTenant()` scope: same connection, same transaction, the tenant's path and role, the first statement
 * pipelined with BEGIN. Values parse as node-postgres parses them by default, which is what Kysely expects.
 */

/** Options of `tenantKysely()`. */
export interface TenantKyselyOptions extends TenantOrmOptions {
  /** Kysely plugins (e.g. `CamelCasePlugin`). */
  plugins?: KyselyConfig['plugins'];
  /** Kysely's query log. It receives parameter values. */
  log?: KyselyConfig['log'];
}

const ORM = 'Kysely';
const AFFECTS_ROWS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

function toKysely<R>(result: QueryResult): KyselyQueryResult<R> {
  return {
    rows: result.rows as R[],
    ...(AFFECTS_ROWS.has(result.command) ? { numAffectedRows: BigInt(result.rowCount) } : {}),
  };
}

/** A savepoint name as a quoted identifier (Kysely's own compiler quotes it the same way). */
function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Kysely's PostgreSQL adapter, with the migration lock held by the scope's transaction. Kysely's own takes a
 * session advisory lock and releases it when the migrator is done, which inside a scope is before the scope
 * commits: a second migrator of the same tenant then runs `up()` over migrations it cannot yet see applied. A
 * transaction-level lock is released by the scope's COMMIT or ROLLBACK, after its rows are visible. It is one
 * lock per schema, so tenants migrate side by side.
 */
class ScopeAdapter extends PostgresAdapter {
  override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext('kysely_migration_lock'), hashtext(current_schema()))`.execute(db);
  }

  override async releaseMigrationLock(): Promise<void> {
    // Released with the scope's transaction.
  }
}

/**
 * Runs `work`, and on failure adds the caller's stack frames (taken before the await) to the error's stack,
 * as Kysely's own PostgreSQL driver does: an error shows where the query was built, not only the driver.
 */
async function withCallerStack<T>(work: () => Promise<T>): Promise<T> {
  const caller = new Error();
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && error.stack && caller.stack) {
      error.stack += caller.stack.slice(caller.stack.indexOf('\n'));
    }
    throw error;
  }
}

/** A Kysely connection: a level of the scope that was current when Kysely acquired it. */
class ScopeConnection implements DatabaseConnection {
  /** The savepoint of the Kysely transaction running on this connection, if any. */
  savepoint: SavepointLevel | undefined;

  constructor(readonly root: SavepointLevel) {}

  get level(): SavepointLevel {
    return this.savepoint ?? this.root;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<KyselyQueryResult<R>> {
    return toKysely<R>(await withCallerStack(() => this.level.run({ text: query.sql, values: query.parameters })));
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize = 100): AsyncIterableIterator<KyselyQueryResult<R>> {
    for await (const rows of streamRows(this.level, { text: query.sql, values: query.parameters }, chunkSize)) {
      yield { rows: rows as R[] };
    }
  }
}

/** Kysely's driver over tenant scopes: no pool of its own, transactions as savepoints. */
class ScopeDriver implements Driver {
  constructor(private readonly database: TenantOrmOptions['database']) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new ScopeConnection(SavepointLevel.of(scopeFor(ORM, this.database)));
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const scoped = connection as ScopeConnection;
    scoped.savepoint = await scoped.root.open(ORM, settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const scoped = connection as ScopeConnection;
    // Kept when RELEASE fails: Kysely then calls rollbackTransaction, which needs it.
    await scoped.savepoint?.release();
    scoped.savepoint = undefined;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const scoped = connection as ScopeConnection;
    const savepoint = scoped.savepoint;
    scoped.savepoint = undefined;
    await savepoint?.rollback();
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ScopeConnection).level.run({ text: `savepoint ${quoteName(name)}` });
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ScopeConnection).level.run({ text: `rollback to savepoint ${quoteName(name)}` });
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ScopeConnection).level.run({ text: `release savepoint ${quoteName(name)}` });
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {}
}

/**
 * One Kysely instance for the whole process (like `sql`): every query it builds runs in the `withTenant()`
 * scope current where it is executed (same connection, same transaction, the tenant's path and role); outside
 * any scope, or in another `Database`'s scope when `database` is given, it is refused with
 * `NoTenantScopeError` (never run on the pool). `transaction()` is a savepoint of the scope's transaction, as
 * are a controlled transaction's `savepoint()`s; isolation level and access mode are refused, as are two
 * concurrent ORM transactions in one scope (`OrmTransactionError`). `.stream()` works, through a SQL cursor
 * (a data-modifying statement with RETURNING runs whole and streams its rows). Kysely's `Migrator` holds its
 * lock until the scope ends. `inflightQueryAbortStrategy`: only `'ignore query'` (the default); the scope's
 * connection is the scope's, so Kysely cannot cancel a query on it or end its session (docs/ORM.md).
 *
 * @example
 * const db = tenantKysely<Database>();
 * const open = await withTenant('acme', () => db.selectFrom('orders').selectAll().where('status', '=', 'open').execute());
 */
export function tenantKysely<DB>(options: TenantKyselyOptions = {}): Kysely<DB> {
  const dialect: Dialect = {
    createAdapter: () => new ScopeAdapter(),
    createDriver: () => new ScopeDriver(options.database),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
  return new Kysely<DB>({
    dialect,
    ...(options.plugins ? { plugins: options.plugins } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
}
