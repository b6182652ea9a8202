import * as drizzleOrm from 'drizzle-orm';
import {
  DrizzleQueryError,
  createTableRelationsHelpers,
  entityKind,
  extractTablesRelationalConfig,
  fillPlaceholders,
  type Assume,
  type ExtractTablesWithRelations,
  type Logger,
  type Query,
  type RelationalSchemaConfig,
  type SQL,
  type TablesRelationalConfig,
} from 'drizzle-orm';
import {
  PgDatabase,
  PgDialect,
  PgPreparedQuery,
  PgSession,
  PgTransaction,
  type PgQueryResultHKT,
  type PgTransactionConfig,
  type PreparedQueryConfig,
} from 'drizzle-orm/pg-core';
import type { QueryResult } from '../drivers/types.js';
import { CgkError, QueryError } from '../errors/index.js';
import { SavepointLevel, refuseSettings, scopeFor, type TenantOrmOptions } from './scope-link.js';

/**
 * `@cgk/db/drizzle`: Drizzle ORM inside the tenant scope. Built on drizzle-orm's pg-core session classes
 * (as its own drivers are), so every statement goes through `withTenant`'s scope: same connection, same
 * transaction, the tenant's path and role, the first statement pipelined with BEGIN.
 */

/** What `db.execute()` resolves to: this library's QueryResult, as node-postgres's for Drizzle's own driver. */
export interface TenantDrizzleQueryResultHKT extends PgQueryResultHKT {
  type: QueryResult<Assume<this['row'], Record<string, unknown>>>;
}

/** The object `tenantDrizzle()` returns: a Drizzle `PgDatabase` whose queries run in the current tenant scope. */
export type TenantDrizzle<TSchema extends Record<string, unknown> = Record<string, never>> = PgDatabase<
  TenantDrizzleQueryResultHKT,
  TSchema,
  ExtractTablesWithRelations<TSchema>
>;

/** Options of `tenantDrizzle()`. */
export interface TenantDrizzleOptions<TSchema extends Record<string, unknown> = Record<string, never>> extends TenantOrmOptions {
  /** Tables and relations, for relational queries (`db.query.orders.findMany({ with: ... })`). */
  schema?: TSchema;
  /** Drizzle's column-name casing. */
  casing?: 'snake_case' | 'camelCase';
  /** Drizzle's query logger: `true` for its default logger. It receives parameter values. */
  logger?: boolean | Logger;
}

/**
 * Types Drizzle parses itself from PostgreSQL's text (date, timestamp, timestamptz, interval, numeric[] and the
 * date/time arrays): asked as text per query, as drizzle-orm/node-postgres does; pg's global parsers stay.
 */
const DRIZZLE_TEXT_TYPES: readonly number[] = [1082, 1114, 1184, 1186, 1231, 1115, 1185, 1187, 1182];
const ORM = 'Drizzle';

/** Members of Drizzle's PgPreparedQuery marked internal (absent from its typings) that its drivers use. */
interface PreparedQueryInternals {
  joinsNotNullableMap?: Record<string, boolean>;
  queryWithCache<R>(text: string, params: unknown[], run: () => Promise<R>): Promise<R>;
}

type MapResultRow = (fields: unknown, row: unknown[], joinsNotNullableMap: Record<string, boolean> | undefined) => unknown;
// Drizzle's own row mapper (what its drivers use), exported at runtime but not in its typings.
const mapResultRow = (drizzleOrm as unknown as { mapResultRow: MapResultRow }).mapResultRow;

/** Where a session's statements go: the scope current at execution (top level), or one savepoint level. */
type Target = { database: TenantOrmOptions['database'] } | { level: SavepointLevel };

function levelOf(target: Target): SavepointLevel {
  return 'level' in target ? target.level : SavepointLevel.of(scopeFor(ORM, target.database));
}

class TenantPreparedQuery<T extends PreparedQueryConfig> extends PgPreparedQuery<T> {
  static override readonly [entityKind]: string = 'CgkTenantPreparedQuery';

  constructor(
    private readonly target: Target,
    query: Query,
    private readonly logger: Logger,
    private readonly fields: unknown,
    private readonly arrayMode: boolean,
    private readonly customResultMapper: ((rows: unknown[][]) => T['execute']) | undefined,
  ) {
    super(query, undefined, undefined);
  }

  override async execute(placeholderValues: Record<string, unknown> = {}): Promise<T['execute']> {
    const { sql: text, params } = this.getQuery();
    const values = fillPlaceholders(params, placeholderValues);
    // Resolved before anything else, so a query outside any scope is refused as such, not as a failed query.
    const level = levelOf(this.target);
    this.logger.logQuery(text, values);
    const rows = !this.fields && !this.customResultMapper;
    const result = await this.#run(level, text, values, !rows);
    if (rows) return result as T['execute'];
    const arrays = result.rows as unknown as unknown[][];
    if (this.customResultMapper) return this.customResultMapper(arrays);
    const joins = (this as unknown as PreparedQueryInternals).joinsNotNullableMap;
    return arrays.map((row) => mapResultRow(this.fields, row, joins));
  }

  async all(placeholderValues: Record<string, unknown> = {}): Promise<T['all']> {
    const { sql: text, params } = this.getQuery();
    const values = fillPlaceholders(params, placeholderValues);
    const level = levelOf(this.target);
    this.logger.logQuery(text, values);
    return (await this.#run(level, text, values, false)).rows as T['all'];
  }

  /** @internal */
  isResponseInArrayMode(): boolean {
    return this.arrayMode;
  }

  async #run(level: SavepointLevel, text: string, values: unknown[], arrays: boolean): Promise<QueryResult> {
    const statement = { text, values, textTypes: DRIZZLE_TEXT_TYPES, ...(arrays ? { rowMode: 'array' as const } : {}) };
    try {
      return await (this as unknown as PreparedQueryInternals).queryWithCache(text, values, () => level.run(statement));
    } catch (error) {
      throw withoutValues(error);
    }
  }
}

/**
 * Drizzle's DrizzleQueryError names the parameter values in its message (and its stack). Here the message is
 * the query alone (PostgreSQL's message is on `cause`), the values stay on `params` but not enumerable (out of
 * logs and JSON), and the cause's `code` / `sqlState` are on the error itself. A scope's own typed error (tenant not found,
 * scope ended, transaction control) is not a failed query: it is thrown as is.
 */
function withoutValues(error: unknown): unknown {
  if (!(error instanceof DrizzleQueryError)) return error;
  const cause = error.cause;
  if (cause instanceof CgkError && !(cause instanceof QueryError)) return cause;
  const original = error.message;
  // The cause's message is not repeated: PostgreSQL's own can quote a value (`invalid input syntax ...: "x"`).
  error.message = `Failed query: ${error.query}`;
  if (error.stack) error.stack = error.stack.replace(original, error.message);
  Object.defineProperty(error, 'params', { value: error.params, enumerable: false });
  if (cause instanceof QueryError) Object.assign(error, { code: cause.code, sqlState: cause.sqlState });
  return error;
}

class TenantDrizzleSession<TFullSchema extends Record<string, unknown>, TSchema extends TablesRelationalConfig> extends PgSession<
  TenantDrizzleQueryResultHKT,
  TFullSchema,
  TSchema
> {
  static override readonly [entityKind]: string = 'CgkTenantDrizzleSession';

  constructor(
    dialect: PgDialect,
    readonly target: Target,
    readonly schema: RelationalSchemaConfig<TSchema> | undefined,
    readonly logger: Logger,
  ) {
    super(dialect);
  }

  // Drizzle's statement name is ignored on purpose: named prepared statements break behind PgBouncer in
  // transaction mode, and the scope's connection changes from one scope to the next anyway.
  prepareQuery<T extends PreparedQueryConfig = PreparedQueryConfig>(
    query: Query,
    fields: unknown,
    _name: string | undefined,
    isResponseInArrayMode: boolean,
    customResultMapper?: (rows: unknown[][]) => T['execute'],
  ): PgPreparedQuery<T> {
    return new TenantPreparedQuery<T>(this.target, query, this.logger, fields, isResponseInArrayMode, customResultMapper);
  }

  override async count(query: SQL): Promise<number> {
    const result = await this.execute<QueryResult>(query);
    return Number(result.rows[0]!.count);
  }

  transaction<T>(
    body: (tx: TenantDrizzleTransaction<TFullSchema, TSchema>) => Promise<T>,
    config?: PgTransactionConfig,
  ): Promise<T> {
    return levelOf(this.target).transaction(ORM, config, (level) => {
      const session = new TenantDrizzleSession<TFullSchema, TSchema>(this.dialect, { level }, this.schema, this.logger);
      return body(new TenantDrizzleTransaction<TFullSchema, TSchema>(this.dialect, session, this.schema, level.depth));
    });
  }
}

class TenantDrizzleTransaction<
  TFullSchema extends Record<string, unknown>,
  TSchema extends TablesRelationalConfig,
> extends PgTransaction<TenantDrizzleQueryResultHKT, TFullSchema, TSchema> {
  static override readonly [entityKind]: string = 'CgkTenantDrizzleTransaction';

  constructor(
    dialect: PgDialect,
    private readonly tenantSession: TenantDrizzleSession<TFullSchema, TSchema>,
    schema: RelationalSchemaConfig<TSchema> | undefined,
    nestedIndex: number,
  ) {
    super(dialect, tenantSession, schema, nestedIndex);
  }

  /** A nested transaction: a savepoint below this one. */
  transaction<T>(body: (tx: TenantDrizzleTransaction<TFullSchema, TSchema>) => Promise<T>): Promise<T> {
    return this.tenantSession.transaction(body);
  }

  /** Refused like transaction settings: this transaction is a savepoint, which has none of its own. */
  override async setTransaction(config: PgTransactionConfig): Promise<void> {
    refuseSettings(ORM, config);
  }
}

/**
 * One Drizzle database object for the whole process (like `sql`): every query it builds runs in the
 * `withTenant()` scope current where it is awaited (same connection, same transaction, the tenant's path and
 * role); outside any scope, or in another `Database`'s scope when `database` is given, it is refused with
 * `NoTenantScopeError` (never run on the pool). `db.transaction()` is a savepoint of the scope's transaction
 * (nested ones too); transaction settings and two concurrent ORM transactions in one scope are refused with
 * `OrmTransactionError`. Rows come back as Drizzle's own drivers give them.
 *
 * @example
 * const db = tenantDrizzle({ schema });
 * const open = await withTenant('acme', () => db.select().from(orders).where(eq(orders.status, 'open')));
 */
export function tenantDrizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  options: TenantDrizzleOptions<TSchema> = {},
): TenantDrizzle<TSchema> {
  const dialect = new PgDialect({ casing: options.casing });
  const logger = options.logger === true ? new drizzleOrm.DefaultLogger() : options.logger || new drizzleOrm.NoopLogger();
  let schema: RelationalSchemaConfig<ExtractTablesWithRelations<TSchema>> | undefined;
  if (options.schema) {
    const tables = extractTablesRelationalConfig(options.schema, createTableRelationsHelpers);
    schema = {
      fullSchema: options.schema,
      schema: tables.tables as ExtractTablesWithRelations<TSchema>,
      tableNamesMap: tables.tableNamesMap,
    };
  }
  const session = new TenantDrizzleSession<TSchema, ExtractTablesWithRelations<TSchema>>(
    dialect,
    { database: options.database },
    schema,
    logger,
  );
  return new PgDatabase(dialect, session, schema) as TenantDrizzle<TSchema>;
}
