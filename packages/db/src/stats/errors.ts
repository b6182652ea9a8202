import { CgkError, ERROR_CLASS } from '../errors/base.js';

/** The typed errors of per-tenant limits and the fair share of the pool. Exported from the package's index. */

/**
 * A tenant already held its share of the pool's connections (its `max_scopes`, or the default fair share) and
 * no slot came free within the wait: this tenant's burst queued behind itself, and now gives up.
 */
export class TenantBusyError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantBusyError';
  constructor(
    readonly slug: string,
    /** The most scopes the tenant may hold at once in this process. */
    readonly limit: number,
    /** How long this scope waited for one of them, in milliseconds. */
    readonly waitedMs: number,
    /** Where the limit came from: the tenant's own `max_scopes`, or the default share of the pool. */
    readonly source: 'tenant' | 'default',
  ) {
    const from = source === 'tenant' ? 'its max_scopes' : 'its fair share of the pool';
    super(
      'CGK_TENANT_BUSY',
      `Tenant "${slug}" already holds ${limit} connections (${from}, ${limit}) ` +
        `and none came free in ${(waitedMs / 1000).toFixed(1)} s`,
      {
        hint:
          `Find what keeps its scopes open (npx @cgk/cli tenant:stats), or raise its bound: npx @cgk/cli tenant:limits ${slug} ` +
          '--max-scopes N (or CGK_TENANT_SHARE / CGK_TENANT_MAX_SCOPES for every tenant).',
      },
    );
  }
}

/** A statement in a tenant scope ran past the tenant's statement timeout and was cancelled by the server. */
export class StatementTimeoutError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'StatementTimeoutError';
  /** PostgreSQL's query_canceled. */
  readonly sqlState = '57014';

  constructor(
    readonly slug: string,
    /** The timeout in force, in milliseconds. */
    readonly timeoutMs: number,
    cause: unknown,
  ) {
    super('CGK_STATEMENT_TIMEOUT', `A statement of tenant "${slug}" ran past its statement timeout of ${timeoutMs} ms`, {
      hint:
        `Make the statement cheaper, or raise the tenant's limit: npx @cgk/cli tenant:limits ${slug} --statement-timeout 5s ` +
        '(or CGK_TENANT_STATEMENT_TIMEOUT for every tenant).',
      cause,
    });
  }
}

/** A limit that is not a duration, a size or a count in range; nothing was changed. */
export class InvalidLimitError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'InvalidLimitError';
  constructor(
    readonly limit: string,
    readonly value: unknown,
    reason: string,
  ) {
    super('CGK_INVALID_LIMIT', `Invalid ${limit} ${JSON.stringify(String(value))}: ${reason}`, {
      hint:
        'Durations are a number with ms, s, min or h (e.g. 250ms, 5s); sizes a number with kB, MB or GB (e.g. 64MB); ' +
        'counts a whole number from 1; "default" clears a tenant\'s own value.',
    });
  }
}
