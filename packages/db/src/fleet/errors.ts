import { CgkError, ERROR_CLASS, type CgkErrorOptions } from '../errors/base.js';

/** The errors of fleet runs (forEachTenant, `cgk tenant:exec`). Public through index.ts. */

/**
 * A run that cannot start or be resumed: an unknown run id, a run another process is executing, a resume
 * given other work or another selection than the run recorded, run records missing (public migration 007).
 */
export class FleetRunError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'FleetRunError';
  constructor(message: string, options: CgkErrorOptions = {}) {
    super('CGK_EXEC_RUN', message, options);
  }
}

/** A `--module` file that cannot be loaded, or that has no default export function. */
export class TenantModuleError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantModuleError';
  constructor(
    readonly file: string,
    message: string,
    options: CgkErrorOptions = {},
  ) {
    super('CGK_EXEC_MODULE', message, options);
  }
}

/**
 * A tenant's work failed with something that is not a platform error (a module's own `throw`), kept as the
 * `cause`; or, for a whole run, the tenants that failed (`failed`: their slugs).
 */
export class TenantExecError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TenantExecError';
  constructor(message: string, options: CgkErrorOptions & { failed?: string[] } = {}) {
    super('CGK_EXEC_FAILED', message, options);
    this.failed = options.failed ?? [];
  }

  readonly failed: string[];
}
