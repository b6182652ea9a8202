import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configuredMigrationSets, CONFIG_FILE, MIGRATION_ENV } from '../config/migration-sets.js';
import { ConfigError, MigrationFilesError } from '../errors/index.js';
import { clearMigrationCache, loadMigrations, migrationFilename } from './files.js';
import type { MigrateOptions } from './types.js';

/** What `createMigrationFile` wrote. */
export interface NewMigrationFile {
  /** The set it belongs to. */
  set: string;
  kind: 'public' | 'tenant';
  version: number;
  filename: string;
  /** Absolute path of the new file. */
  path: string;
}

/**
 * Writes the next numbered file (`NNN_name.sql`, after the highest in the folder) of the application's first
 * configured set of `kind` (tenant by default), with a first-line comment to fill in. Refuses a bad name
 * (`MigrationFilesError`), a folder whose files are already inconsistent, and a kind with no configured set
 * (`ConfigError`). Never overwrites: the file is created exclusively.
 *
 * @example
 * const file = await createMigrationFile('gift_cards'); // db/tenant/003_gift_cards.sql
 */
export async function createMigrationFile(
  name: string,
  options: { kind?: 'public' | 'tenant'; sets?: MigrateOptions['sets'] } = {},
): Promise<NewMigrationFile> {
  const kind = options.kind ?? 'tenant';
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new MigrationFilesError(name, `Migration name "${name}" is not allowed`, {
      hint: 'Use lowercase letters, digits and "_" (e.g. gift_cards): it becomes NNN_gift_cards.sql.',
    });
  }
  const set = (options.sets?.[kind] ?? configuredMigrationSets()[kind])[0];
  if (!set) {
    throw new ConfigError(
      `No ${kind} migration set of the application is configured`,
      `Add { "migrations": { "${kind}": ["db/${kind}"] } } to ${CONFIG_FILE}, or set ${MIGRATION_ENV[kind]}=db/${kind}.`,
    );
  }
  const dir = resolve(typeof set.dir === 'string' ? set.dir : fileURLToPath(set.dir));
  clearMigrationCache();
  const existing = await loadMigrations(dir);
  const version = existing.length + 1;
  const filename = migrationFilename(version, name);
  const path = join(dir, filename);
  const what = kind === 'tenant' ? 'every tenant schema (never name a schema here)' : 'the public schema';
  await writeFile(path, `-- ${name.replace(/_/g, ' ')}: what this file creates in ${what}\n`, { flag: 'wx' });
  clearMigrationCache();
  return { set: set.name, kind, version, filename, path };
}
