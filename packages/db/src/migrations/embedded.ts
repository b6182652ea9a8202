/** One built-in migration file carried in the code: its name and its text. */
export interface EmbeddedFile {
  readonly filename: string;
  readonly sql: string;
}

/** The built-in migration files of each directory, as the package build embeds them. */
export interface EmbeddedMigrations {
  /** Where the build copied the files, relative to the directory of the bundle's modules. */
  readonly dir: string;
  readonly public: readonly EmbeddedFile[];
  readonly tenant: readonly EmbeddedFile[];
}

/**
 * The built-in migration files as text, so they are found wherever the code runs: a bundler (Next.js) moves the
 * code away from the `.sql` files and cannot follow a directory read. Undefined in the sources, which read the
 * files from disk; the package build puts the files' text in their place (scripts/build.mjs).
 */
export const EMBEDDED_MIGRATIONS = undefined as EmbeddedMigrations | undefined;
