import { CgkError, ERROR_CLASS, describeValue } from './base.js';

/** Errors of tenant names, scopes and their transactions. */

/** A tenant slug that breaks the slug rules; raised before any SQL is sent. */
export class InvalidSlugError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'InvalidSlugError';
  constructor(
    readonly slug: unknown,
    reason: string,
  ) {
    super('CGK_INVALID_SLUG', `Invalid tenant slug ${describeValue(slug)}: ${reason}`, {
      hint: 'A slug is 1-56 characters of lowercase letters, digits and "_", starting with a letter (e.g. "acme_store").',
    });
  }
}

/** An SQL identifier (schema, table, role) that is not a plain lowercase identifier. */
export class InvalidIdentifierError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'InvalidIdentifierError';
  constructor(
    readonly identifier: unknown,
    reason: string,
  ) {
    super('CGK_INVALID_IDENTIFIER', `Invalid SQL identifier ${describeValue(identifier)}: ${reason}`, {
      hint: 'Identifiers are lowercase letters, digits and "_", starting with a letter or "_", at most 63 bytes.',
    });
  }
}

/** The tenant's schema does not exist in this database. */
export class TenantNotFoundError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantNotFoundError';
  constructor(
    readonly slug: string,
    cause?: unknown,
  ) {
    super('CGK_TENANT_NOT_FOUND', `Tenant "${slug}" does not exist (no schema tenant_${slug})`, {
      hint: `Create it with: npx @cgk/cli tenant:create ${slug}`,
      cause,
    });
  }
}

/** A tenant with this slug already exists (or is being created right now by someone else). */
export class TenantExistsError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantExistsError';
  constructor(readonly slug: string) {
    super('CGK_TENANT_EXISTS', `Tenant "${slug}" already exists`, {
      hint: 'Pick another slug, or use the existing tenant (npx @cgk/cli tenant:list).',
    });
  }
}

/** withTenant() for tenant B was called inside a scope of tenant A. */
export class TenantScopeConflictError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantScopeConflictError';
  constructor(
    readonly outer: string,
    readonly inner: string,
  ) {
    super('CGK_TENANT_SCOPE_CONFLICT', `withTenant("${inner}") called inside the scope of tenant "${outer}"`, {
      hint: 'A scope is one transaction on one tenant; finish it before working on another tenant.',
    });
  }
}

/** A query was issued through a tenant scope (or its bound sql) after that scope ended. */
export class ScopeEndedError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'ScopeEndedError';
  constructor(readonly slug: string) {
    super('CGK_SCOPE_ENDED', `Query issued through the scope of tenant "${slug}" after it ended`, {
      hint: 'Await every query inside the withTenant() callback; do not keep its sql for later.',
    });
  }
}

/**
 * The transaction was aborted by an earlier failed query whose error was swallowed: nothing was committed.
 * `work` names what the transaction was for (a tenant scope by default; tenant creation or removal).
 */
export class TransactionAbortedError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TransactionAbortedError';
  constructor(
    readonly slug: string,
    cause?: unknown,
    work = 'tenant scope',
  ) {
    super(
      'CGK_TRANSACTION_ABORTED',
      `The transaction of ${work} "${slug}" was aborted by a failed query; nothing was committed`,
      {
        hint:
          'A query inside the scope failed and its error was caught; PostgreSQL rolled the whole scope back. ' +
          'Let the error propagate or retry the whole scope.',
        cause,
      },
    );
  }
}

/**
 * A statement inside a tenant scope would end or restart the scope's transaction (COMMIT, ROLLBACK, END,
 * ABORT, BEGIN, START TRANSACTION, PREPARE TRANSACTION, alone or inside a multi-statement text); it was
 * refused before anything was sent, and the scope's transaction is intact.
 */
export class TransactionControlError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TransactionControlError';
  constructor(
    readonly slug: string,
    readonly statement: string,
  ) {
    super(
      'CGK_TRANSACTION_CONTROL',
      `"${statement.toUpperCase()}" refused inside the scope of tenant "${slug}": it would end the scope's transaction, ` +
        "and what follows would run without the tenant's path and role",
      {
        hint:
          'withTenant() commits when its callback resolves and rolls back when it throws: throw to roll back. For a ' +
          'partial rollback use SAVEPOINT / ROLLBACK TO SAVEPOINT, or an ORM transaction (a savepoint inside a scope).',
      },
    );
  }
}

/** A `Database` was used after its `end()`: its connections are closed and it opens no new ones. */
export class DatabaseClosedError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'DatabaseClosedError';
  constructor() {
    super('CGK_DATABASE_CLOSED', 'This database has been closed (end() was called)', {
      hint: 'Create a new Database (or call closeDatabase() only once the process is done with the default one).',
    });
  }
}

/**
 * An ORM bound to the tenant scope (`tenantDrizzle()`, `tenantKysely()`) ran a query outside any
 * withTenant() scope, or inside a scope of another `Database` than the one it was limited to. Nothing ran:
 * these ORMs never fall back to the pool.
 */
export class NoTenantScopeError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'NoTenantScopeError';
  constructor(
    readonly orm: string,
    otherDatabase: boolean,
  ) {
    super(
      'CGK_NO_TENANT_SCOPE',
      otherDatabase
        ? `A ${orm} query ran in the scope of another Database than the one tenant${orm}() was given`
        : `A ${orm} query ran outside any withTenant() scope`,
      {
        hint: `Run it inside withTenant(slug, ...) (of the Database passed to tenant${orm}({ database })), and await it there.`,
      },
    );
  }
}

/**
 * An ORM transaction inside a tenant scope that cannot be honoured: the scope's transaction is already open,
 * so an ORM transaction is a savepoint, which takes no isolation level or access mode; and one scope runs
 * one ORM transaction at a time on its connection.
 */
export class OrmTransactionError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'OrmTransactionError';
  constructor(message: string, hint: string) {
    super('CGK_ORM_TRANSACTION', message, { hint });
  }
}
