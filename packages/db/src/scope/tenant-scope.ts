import type { ScopeOwner } from './owner.js';
import type { QueryResult, Statement, Transaction } from '../drivers/types.js';
import {
  CgkError,
  QueryError,
  ScopeEndedError,
  TenantNotFoundError,
  TenantScopeConflictError,
  TransactionAbortedError,
} from '../errors/index.js';
import { inlineLiteral, schemaNameFor } from '../sql/identifier.js';
import { DATABASE_TAG_EXPRESSION, tenantRoleExpression, tenantRoleNameForTag } from '../roles/tenant-role.js';
import { createSql, type Sql } from '../sql/tag.js';
import { currentScope, scopeStorage, type ActiveScope } from './context.js';
import { TransactionControlError } from '../errors/index.js';
import { RESET_AFTER_ROLLBACK, RESET_BEFORE_COMMIT } from './session-reset.js';
import { findTransactionControl } from './transaction-control.js';
import { loginFailure, loginRole, workerLoginError } from './login.js';
import { enterScope } from './fair-share.js';

/**
 * withTenant() on a given database; `Database.withTenant` and the module-level `withTenant` both land here.
 * Takes the database as a parameter, typed by what a scope needs of it (`ScopeOwner`), so the scope layer never
 * imports the database module.
 */
export async function runTenantScope<T>(db: ScopeOwner, slug: string, fn: (sql: Sql) => PromiseLike<T> | T): Promise<T> {
  const schema = schemaNameFor(slug);
  const outer = currentScope();
  if (outer) {
    if (outer.slug !== slug) throw new TenantScopeConflictError(outer.slug, slug);
    if (outer.owner === db) return fn(outer.sql);
  }
  const scope = new TenantScope(db, slug, schema);
  let value: T;
  try {
    // Awaited inside the scope's context: a returned thenable (an ORM's lazy query builder) runs its query
    // in the scope, not after it.
    value = await scopeStorage.run(scope, async () => await fn(scope.sql));
  } catch (error) {
    await scope.close('rollback');
    throw await droppedMeanwhile(db, slug, schema, error);
  }
  await scope.close('commit');
  return value;
}

/** PostgreSQL's undefined_table and invalid_schema_name: what a scope sees when its schema is dropped under it. */
const UNDEFINED_RELATION = new Set(['42P01', '3F000']);

/**
 * A scope that failed for want of a table or schema because the tenant was dropped while it ran (its schema
 * existed when the scope began) gets `TenantNotFoundError`, not `relation "orders" does not exist`. Checked
 * only on those errors, after the scope's connection was released (so a one-connection pool or the
 * embedded database can answer): one query on the error path, none otherwise.
 */
async function droppedMeanwhile(db: ScopeOwner, slug: string, schema: string, error: unknown): Promise<unknown> {
  if (!(error instanceof QueryError) || !UNDEFINED_RELATION.has(error.sqlState ?? '')) return error;
  try {
    const { rows } = await db.query({ text: 'select to_regnamespace($1) is not null as found', values: [schema] });
    return rows[0]?.found === false ? new TenantNotFoundError(slug, error) : error;
  } catch {
    return error;
  }
}

/**
 * The statement sent with BEGIN: sets the path (and, in set-role mode, the role) transaction-locally, and FAILS
 * when the tenant's schema does not exist, so that the transaction is aborted before the scope's first
 * statement (pipelined right behind it) can run: that statement is then refused by the server (25P02) and
 * never runs with the application's privileges. The existence check is the cast `'tenant_x'::regnamespace`,
 * which the server resolves while parsing the statement (3F000 when the schema is missing), before anything
 * in it executes; a missing role then fails the role switch (22023).
 *
 * Its cheapest form (measured per statement: docs/BENCHMARKS.md) is `select <cast>; set local search_path
 * ...; set local role ...`: `SET` commands cost the server less than `set_config()` in a SELECT. That form is
 * one text of several statements, which the embedded database's one-statement query() does not take, and
 * whose answer is the last statement's: so the embedded database, and the first scope of a process (which
 * reads the database's tag from the answer), get the same work as one SELECT.
 * It carries no parameters on purpose: drivers send a parameterless prelude in the same simple-protocol
 * message as BEGIN, which costs less than even a hand-pipelined BEGIN + parameterised set_config. Inlining
 * is safe because the only values are a schema name that `schemaNameFor` has already limited to
 * `[a-z][a-z0-9_]*` and a role name built from it, and `inlineLiteral()` checks that again.
 */
function tenantPrelude(
  slug: string,
  schema: string,
  roles: { databaseTag: string | undefined } | undefined,
  oneStatement: boolean,
): Statement {
  const check = `select ${inlineLiteral(schema)}::regnamespace as schema`;
  // The tenant first (its tables win over platform tables of the same name), then the extensions schema
  // (extension functions, types and operators: docs/setup/DATABASE.md, "Adding your own tables"), then public.
  const path = inlineLiteral(`${schema}, extensions, public`);
  const tag = roles?.databaseTag;
  if (oneStatement || (roles && !tag)) {
    // The role's name carries the database's tag: computed by the server until the first scope has reported
    // it, a literal afterwards (the server-side md5 costs more than the whole role switch).
    const name = tag ? inlineLiteral(tenantRoleNameForTag(slug, tag)) : tenantRoleExpression(slug);
    const role = roles
      ? `, set_config('role', ${name}, true) as role${tag ? '' : `, ${DATABASE_TAG_EXPRESSION} as database_tag`}`
      : '';
    return { text: `${check}, set_config('search_path', ${path}, true) as search_path${role}` };
  }
  const role = roles && tag ? `; set local role ${inlineLiteral(tenantRoleNameForTag(slug, tag))}` : '';
  return { text: `${check}; set local search_path to ${inlineLiteral(schema)}, 'extensions', 'public'${role}` };
}

/** The prelude's refusal of a tenant without a schema (`'tenant_x'::regnamespace`: invalid_schema_name). */
function schemaMissing(error: Error | undefined): boolean {
  return error instanceof QueryError && error.sqlState === '3F000';
}

/** A driver answered a pipelined batch with fewer results than statements: a driver bug, never user input. */
function noResult(what: string): QueryError {
  return new QueryError(`The driver returned no result for ${what}`, {}, { hint: 'This is a bug in @cgk/db; please report it.' });
}

/** The tenant's schema exists but its role does not: created before roles were on, or by hand. */
function roleMissing(error: Error | undefined, slug: string): CgkError | undefined {
  if (!(error instanceof QueryError) || !/role .* does not exist/.test(error.message)) return undefined;
  return new CgkError('CGK_ROLE', `Tenant "${slug}" has no database role, and tenant roles are on`, {
    hint:
      `Create its role and grants with: npx @cgk/cli tenant:repair ${slug} ` +
      '(or set CGK_TENANT_ROLES=off for search_path-only isolation)',
    cause: error,
  });
}

class TenantScope implements ActiveScope {
  readonly sql: Sql;
  #tx: Transaction | undefined;
  /** Settles when the transaction is open (or failed to open). */
  #opening: Promise<void> | undefined;
  #openError: Error | undefined;
  #missing = false;
  #ended = false;

  constructor(
    readonly owner: ScopeOwner,
    readonly slug: string,
    readonly schema: string,
  ) {
    this.sql = createSql((statement) => this.run(statement));
  }

  async run(statement: Statement): Promise<QueryResult> {
    if (this.#ended) throw new ScopeEndedError(this.slug);
    const control = findTransactionControl(statement.text);
    if (control) throw new TransactionControlError(this.slug, control);
    if (!this.#opening) {
      const first = this.#open(statement);
      this.#opening = first.then(
        () => undefined,
        () => undefined,
      );
      return first;
    }
    await this.#opening;
    if (this.#ended) throw new ScopeEndedError(this.slug);
    if (!this.#tx) throw this.#openError ?? new TenantNotFoundError(this.slug);
    if (this.#missing) throw new TenantNotFoundError(this.slug);
    return this.#tx.query(statement);
  }

  /** BEGIN + path + first statement in one round trip; the first statement's result is returned. */
  async #open(first: Statement): Promise<QueryResult> {
    try {
      const owner = this.owner;
      // The tenant's fair share of the pool, its limits and its statistics (scope/fair-share.ts).
      const driver = enterScope(owner, this.slug, await owner.driver());
      const mode = owner.tenantRoleMode;
      // Login mode: the connection is the tenant role's own, so the prelude switches no role.
      const role = mode === 'login' ? await loginRole(owner, this.slug) : undefined;
      const path = tenantPrelude(this.slug, this.schema, mode === 'set-role' ? owner : undefined, driver.name === 'pglite');
      const { tx, results } = await driver
        .begin([path, first], { tenant: this.schema, ...(role === undefined ? {} : { role }) })
        .catch(async (error: unknown) => {
          throw role === undefined ? error : await loginFailure(owner, this.slug, this.schema, error);
        });
      this.#tx = tx;
      const [prelude, answer] = results;
      if (!prelude?.ok) {
        if (!schemaMissing(prelude?.error))
          throw roleMissing(prelude?.error, this.slug) ?? prelude?.error ?? noResult('the tenant prelude');
        this.#missing = true;
        throw new TenantNotFoundError(this.slug, prelude?.error);
      }
      const row = prelude.result.rows[0];
      if (typeof row?.database_tag === 'string') owner.databaseTag = row.database_tag;
      if (!answer?.ok) {
        throw workerLoginError(answer?.error, this.slug) ?? answer?.error ?? noResult("the scope's first statement");
      }
      return answer.result;
    } catch (error) {
      this.#openError = error as Error;
      throw error;
    }
  }

  /** Ends the scope: later queries throw; the transaction commits or rolls back and its connection is released. */
  async close(outcome: 'commit' | 'rollback'): Promise<void> {
    this.#ended = true;
    await this.#opening;
    const tx = this.#tx;
    if (!tx) return;
    if (outcome === 'rollback' || this.#missing) {
      await tx.rollback({ reset: RESET_AFTER_ROLLBACK });
      if (this.#missing && outcome === 'commit') throw new TenantNotFoundError(this.slug);
      return;
    }
    const tag = await tx.commit({ reset: RESET_BEFORE_COMMIT, afterRollback: RESET_AFTER_ROLLBACK });
    if (tag === 'ROLLBACK') throw new TransactionAbortedError(this.slug);
  }
}
