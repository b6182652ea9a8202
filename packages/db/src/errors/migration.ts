import { CgkError, ERROR_CLASS, type CgkErrorOptions } from './base.js';

/** The migration runner's errors. Public through errors/index.ts. */

/**
 * A migration directory breaks the file rules (bad name, gap, duplicate version, unreadable) or disagrees with a
 * schema's history. `file` names the file.
 */
export class MigrationFilesError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'MigrationFilesError';
  constructor(
    readonly file: string,
    message: string,
    options: CgkErrorOptions = {},
  ) {
    super('CGK_MIGRATION_FILES', message, options);
  }
}

/** An applied migration's file changed since it was applied: nothing is applied to that schema until it is resolved. */
export class MigrationChecksumError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'MigrationChecksumError';
  constructor(
    readonly schema: string,
    readonly file: string,
    readonly recorded: string,
    readonly current: string,
  ) {
    super(
      'CGK_MIGRATION_CHECKSUM',
      `Migration ${file} was changed after it was applied to schema ${schema}: ` +
        `checksum recorded ${recorded}, file now ${current}`,
      {
        hint:
          `Applied migrations are never edited: restore ${file} to its applied content (git checkout) ` +
          'and put the change in a new migration file.',
      },
    );
  }
}

/** Where and why a migration failed. */
export interface MigrationErrorDetails {
  schema: string;
  /** The migration file, when one is to blame. */
  file?: string;
  /** 1-based line (and column) in the file, when PostgreSQL reported a position or the failing statement was found. */
  line?: number;
  column?: number;
  /** PostgreSQL's SQLSTATE, when the server refused a statement. */
  sqlState?: string;
}

/** A migration failed and was rolled back (code CGK_MIGRATION): names the schema, the file, the line and PostgreSQL's message. */
export class MigrationError extends CgkError {
  static override readonly [ERROR_CLASS]: string = 'MigrationError';
  readonly schema: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly sqlState: string | undefined;

  constructor(details: MigrationErrorDetails, message: string, options: CgkErrorOptions = {}) {
    super('CGK_MIGRATION', message, options);
    this.schema = details.schema;
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.sqlState = details.sqlState;
  }
}

/**
 * migrateTenants() finished with failed tenants (the others were migrated); `failures` lists each with its
 * error. A `MigrationError` like every CGK_MIGRATION error; its `schema` is `tenant_*` (the fleet's schemas).
 */
export class MigrationFleetError extends MigrationError {
  static override readonly [ERROR_CLASS]: string = 'MigrationFleetError';
  constructor(readonly failures: ReadonlyArray<{ slug: string; error: CgkError }>) {
    const shown = failures
      .slice(0, 3)
      .map((f) => `${f.slug}: ${f.error.message}`)
      .join('; ');
    const count = `${failures.length} tenant${failures.length === 1 ? '' : 's'}`;
    super({ schema: 'tenant_*' }, `Migrations failed for ${count}: ${shown}${failures.length > 3 ? '; ...' : ''}`, {
      hint:
        'Fix the failing tenants (each error names the file and line) and run the migrations again: ' +
        'tenants already migrated are skipped.',
    });
  }
}
