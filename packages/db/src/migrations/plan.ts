import { MigrationChecksumError, MigrationFilesError, type CgkError } from '../errors/index.js';
import { migrationFilename, migrationsDigest, prefixDigests, type Migration } from './files.js';
import type { MigrationResult, MigrationResultSet, MigrationResultStatus } from './types.js';

/**
 * What to run, decided without a database: a schema's applied rows against the files (forward-only, in
 * order, unchanged), the summary row a tenant should have, and the record of a run that becomes its
 * `MigrationResultSet`.
 */

/** One row of a schema's `schema_migrations`, as the runner reads it. */
export interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/** What a schema has applied, what is pending, and why nothing may run (if so). */
export interface Plan {
  applied: AppliedRow[];
  pending: Migration[];
  error?: CgkError;
  /** The file the error is about (a changed checksum, a file below an applied version). */
  blamed?: Migration;
}

/** The rows of `select version, name, checksum from schema_migrations`, typed. */
export function appliedRowsOf(rows: ReadonlyArray<Record<string, unknown>>): AppliedRow[] {
  return rows.map((row) => ({ version: Number(row.version), name: String(row.name), checksum: String(row.checksum) }));
}

/**
 * Checks what a schema has applied against the files: every applied version must have its file, unchanged,
 * and the applied versions must be 1..k (forward-only, in order). Pending = the files after k.
 */
export function planRun(schema: string, migrations: readonly Migration[], applied: AppliedRow[]): Plan {
  for (let i = 0; i < applied.length; i++) {
    const row = applied[i]!;
    const migration = migrations[row.version - 1];
    if (!migration) return { applied, pending: [], error: missingFileError(schema, migrations, row) };
    if (row.checksum !== migration.checksum) {
      const error = new MigrationChecksumError(schema, migration.filename, row.checksum, migration.checksum);
      return { applied, pending: [], blamed: migration, error };
    }
    if (row.version !== i + 1) {
      const missing = migrations[i]!;
      const error = new MigrationFilesError(
        missing.filename,
        `Schema ${schema} has migration ${row.version} applied but not ${missing.filename}: migrations are applied in order`,
        { hint: `A file was inserted below an applied version. Give ${missing.filename} the next free number instead.` },
      );
      return { applied, pending: [], blamed: missing, error };
    }
  }
  return { applied, pending: migrations.slice(applied.length) };
}

function missingFileError(schema: string, migrations: readonly Migration[], row: AppliedRow): MigrationFilesError {
  const latest = migrations.at(-1)?.filename ?? 'none';
  const file = migrationFilename(row.version, row.name);
  return new MigrationFilesError(
    file,
    `Schema ${schema} has migration ${row.version} (${row.name}) applied, but there is no such file (latest file: ${latest})`,
    {
      hint:
        'This schema was migrated by a newer release: run the release that has the file, or check the migration directory ' +
        'option.',
    },
  );
}

/** A tenant's summary row: its highest applied version and the digest of its applied list. */
export interface SummaryRow {
  version: number;
  digest: string;
}

/** The summary row to write when the one read (`row`) disagrees with the schema's own history; else undefined. */
export function summaryCorrection(applied: AppliedRow[], row: Record<string, unknown> | undefined): SummaryRow | undefined {
  const version = applied.at(-1)?.version ?? 0;
  const digest = migrationsDigest(applied);
  if (row && Number(row.version) === version && row.checksum_digest === digest) return undefined;
  return { version, digest };
}

/** Which first-N prefix of the files a (version, digest) summary describes, if any (the fleet's fast path). */
export function prefixOf(migrations: readonly Migration[], version: unknown, digest: unknown): number | undefined {
  if (version === null || version === undefined) return undefined;
  const n = Number(version);
  if (!Number.isInteger(n) || n < 0 || n > migrations.length) return undefined;
  return prefixDigests(migrations)[n] === digest ? n : undefined;
}

/**
 * The record of one schema's run: a status per file, from which the run's `MigrationResultSet` is made once,
 * at the end. Starts with the first `assumed` files Skipped and the others NotExecuted.
 */
export class RunLog {
  readonly #results: MigrationResult[];

  constructor(
    readonly schema: string,
    migrations: readonly Migration[],
    assumed = 0,
    readonly set = 'platform',
  ) {
    this.#results = migrations.map((m) => entry(schema, m, m.version <= assumed ? 'Skipped' : 'NotExecuted', set));
  }

  /** Files a schema had applied before: Skipped, unless this run already recorded them. */
  skipped(applied: readonly AppliedRow[]): void {
    for (const row of applied) {
      const result = this.#results[row.version - 1];
      if (result?.status === 'NotExecuted') result.status = 'Skipped';
    }
  }

  succeeded(migration: Migration, durationMs?: number): void {
    this.#results[migration.version - 1] = {
      ...entry(this.schema, migration, 'Success', this.set),
      ...(durationMs === undefined ? {} : { durationMs }),
    };
  }

  /** Records `error` against `migration` and returns it (for `throw log.failed(...)`). */
  failed(migration: Migration, error: CgkError): CgkError {
    this.#results[migration.version - 1] = { ...entry(this.schema, migration, 'Error', this.set), error };
    return error;
  }

  /** The result set: every file's status, and the error that stopped the run (if any). */
  toResultSet(error?: CgkError): MigrationResultSet {
    return { schema: this.schema, results: [...this.#results], ...(error ? { error } : {}), failed: error !== undefined };
  }
}

function entry(schema: string, m: Migration, status: MigrationResultStatus, set: string): MigrationResult {
  return { schema, version: m.version, name: m.name, filename: m.filename, status, ...(set === 'platform' ? {} : { set }) };
}
