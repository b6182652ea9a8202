import { configuredMigrationSets } from '../config/migration-sets.js';
import { loadMigrations, type Migration } from './files.js';
import { PLATFORM_SET } from './tracking.js';
import { DEFAULT_PUBLIC_DIR, DEFAULT_TENANT_DIR, type MigrateOptions } from './types.js';

/**
 * The migration sets a run applies, in order: the platform's (built in), then the application's (options, or
 * the configuration). Each set has its own versions, tracking rows, checksums, lock and summary row.
 */

/** One set with its files loaded. */
export interface LoadedSet {
  name: string;
  migrations: readonly Migration[];
}

/** The sets of `kind`, files loaded: the platform's first. Throws `MigrationFilesError` / `ConfigError`. */
export async function loadSets(kind: 'public' | 'tenant', options: MigrateOptions = {}): Promise<LoadedSet[]> {
  const app = options.sets?.[kind] ?? configuredMigrationSets()[kind];
  const platform = kind === 'public' ? (options.publicDir ?? DEFAULT_PUBLIC_DIR) : (options.tenantDir ?? DEFAULT_TENANT_DIR);
  const specs = [{ name: PLATFORM_SET, dir: platform }, ...app];
  return Promise.all(specs.map(async (spec) => ({ name: spec.name, migrations: await loadMigrations(spec.dir) })));
}

/** How a file is named in reports: `001_x.sql` for the platform's, `set/001_x.sql` for an application's. */
export function fileLabel(set: string, filename: string): string {
  return set === PLATFORM_SET ? filename : `${set}/${filename}`;
}
