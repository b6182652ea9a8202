/** One built-in migration file carried in the code: its name and its text. */
export interface EmbeddedFile {
  readonly filename: string;
  readonly sql: string;
}

/** The built-in migration files of each directory, as the package build embeds them. */
export interface EmbeddedMigrations {
  readonly public: readonly EmbeddedFile[];
  readonly tenant: readonly EmbeddedFile[];
}

/**
 * The built-in migration files as text, so they are found wherever the code runs: a bundler (Next.js) moves the
 * code away from the `.sql` files and cannot follow a directory read. Undefined in the sources, which read the
 * files from disk; the package build writes dist/migrations/embedded.js with the files' text
 * (scripts/embed-migrations.mjs).
 */
export const EMBEDDED_MIGRATIONS = undefined as EmbeddedMigrations | undefined;
