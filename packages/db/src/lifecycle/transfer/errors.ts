import { CgkError, type CgkErrorOptions, ERROR_CLASS } from '../../errors/base.js';

/** The typed errors of tenant export, import and move. */

/** Why an export file was refused: what `reason` names, before anything was written to any database. */
export type ExportFileProblem = 'not-an-export' | 'truncated' | 'corrupted' | 'checksum' | 'manifest';

/**
 * An export file that cannot be trusted: not one of ours, cut short, or changed after it was written (a
 * checksum, a row count or the manifest does not match). `importTenant` throws it before it writes anything.
 */
export class ExportFileError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'ExportFileError';
  constructor(
    readonly file: string,
    readonly reason: ExportFileProblem,
    detail: string,
    options: CgkErrorOptions = {},
  ) {
    super('CGK_EXPORT_INVALID', `${file} is not a usable tenant export: ${detail}`, {
      hint:
        options.hint ??
        'Nothing was written. Take a new export (npx @cgk/cli tenant:export <slug> --out <file>), or copy the file again ' +
          'and compare its size with the original.',
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}

/**
 * The target database cannot take this export: its tenant migrations are older than the export's, or a
 * migration applied to the exported tenant is not the same file here (checksums differ).
 */
export class ExportIncompatibleError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'ExportIncompatibleError';
  constructor(message: string, hint: string) {
    super('CGK_EXPORT_INCOMPATIBLE', message, { hint });
  }
}

/** Export, import and move need a server connection that speaks COPY: the embedded database has none here. */
export class TransferUnsupportedError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'TransferUnsupportedError';
  constructor(what: string) {
    super(
      'CGK_TRANSFER_UNSUPPORTED',
      `${what} needs a PostgreSQL server (DATABASE_URL); the embedded database is not supported`,
      {
        hint:
          'Run it against a server: set DATABASE_URL (postgres://...). To move an embedded tenant, run setup:database ' +
          'and tenant:create on a server and copy the rows with your own script.',
      },
    );
  }
}
