import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, MigrationFilesError } from '../errors/index.js';

/**
 * Where an application's own migration sets are configured, in one place for the library, the CLI and the
 * repository's scripts: a `cgk.config.json` file, found from the working directory upwards (the way
 * drizzle-kit and Prisma find theirs), and the environment variables `CGK_PUBLIC_MIGRATIONS` /
 * `CGK_TENANT_MIGRATIONS` (comma-separated folders relative to the working directory), which replace the
 * file's list of their kind when set. JSON, not a module: it is read synchronously by any caller, with no
 * loader for TypeScript and nothing for a bundler to follow.
 */

/** An application's migration set: a name (recorded with every applied file) and its folder. */
export interface MigrationSetSpec {
  /** `[a-z][a-z0-9_]*` (at most 40 characters), not `platform`; unique among the sets of its kind. */
  name: string;
  dir: string | URL;
}

/** The application's sets of each kind, applied after the platform's, in this order. */
export interface MigrationSets {
  public: readonly MigrationSetSpec[];
  tenant: readonly MigrationSetSpec[];
}

/** The configuration file's name. */
export const CONFIG_FILE = 'cgk.config.json';
/** The environment variables naming each kind's folders. */
export const MIGRATION_ENV = { public: 'CGK_PUBLIC_MIGRATIONS', tenant: 'CGK_TENANT_MIGRATIONS' } as const;

const SET_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** Where the configuration is read from. */
export interface ConfigSource {
  /** Default `process.cwd()`. */
  cwd?: string;
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * The application's migration sets, as configured now (read on every call: a few file-system lookups).
 * Each folder must exist and be a directory: otherwise `MigrationFilesError` naming it and where it was
 * configured. A malformed `cgk.config.json` is a `ConfigError`. Without any configuration: no sets.
 *
 * @example
 * // cgk.config.json: { "migrations": { "tenant": ["db/tenant"], "public": ["db/public"] } }
 * const { tenant } = configuredMigrationSets(); // [{ name: 'tenant', dir: '/app/db/tenant' }]
 */
export function configuredMigrationSets(source: ConfigSource = {}): MigrationSets {
  const cwd = resolve(source.cwd ?? process.cwd());
  const env = source.env ?? process.env;
  const file = findConfigFile(cwd);
  const fromFile = file ? readConfigFile(file) : { public: [], tenant: [] };
  const sets = { public: fromFile.public, tenant: fromFile.tenant };
  for (const kind of ['public', 'tenant'] as const) {
    const value = env[MIGRATION_ENV[kind]];
    if (value !== undefined && value.trim() !== '') {
      sets[kind] = value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
        .map((entry) => parseEntry(entry, cwd, `the environment variable ${MIGRATION_ENV[kind]}`));
    }
  }
  for (const kind of ['public', 'tenant'] as const) checkNames(sets[kind], kind);
  return sets;
}

/** The `cgk.config.json` in `cwd` or the nearest directory above it, or undefined. */
export function findConfigFile(cwd: string = process.cwd()): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

type Spec = MigrationSetSpec & { dir: string; from: string };

function readConfigFile(file: string): { public: Spec[]; tenant: Spec[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Cannot read ${file}: ${(error as Error).message}`, `Fix the JSON of ${CONFIG_FILE}.`);
  }
  const migrations = (parsed as { migrations?: unknown } | null)?.migrations ?? {};
  if (typeof migrations !== 'object' || migrations === null || Array.isArray(migrations)) throw shapeError(file);
  const unknownKey = Object.keys(migrations).find((key) => key !== 'public' && key !== 'tenant');
  if (unknownKey) throw shapeError(file, `unknown key "migrations.${unknownKey}"`);
  const base = dirname(file);
  const list = (kind: 'public' | 'tenant'): Spec[] => {
    const entries = (migrations as Record<string, unknown>)[kind] ?? [];
    if (!Array.isArray(entries)) throw shapeError(file, `"migrations.${kind}" must be an array`);
    return entries.map((entry) => {
      if (typeof entry === 'string') return parseEntry(entry, base, file);
      const { name, dir } = (entry ?? {}) as { name?: unknown; dir?: unknown };
      if (typeof dir !== 'string' || (name !== undefined && typeof name !== 'string'))
        throw shapeError(file, `each entry of "migrations.${kind}" is a folder or { "name", "dir" }`);
      return spec(name, dir, base, file);
    });
  };
  return { public: list('public'), tenant: list('tenant') };
}

function shapeError(file: string, why = '"migrations" must be an object'): ConfigError {
  return new ConfigError(
    `${file}: ${why}`,
    'Write it as { "migrations": { "public": ["db/public"], ' +
      '"tenant": ["db/tenant", { "name": "billing", "dir": "billing/sql" }] } }.',
  );
}

/** A folder, or `name=folder`, relative to `base`. */
function parseEntry(entry: string, base: string, from: string): Spec {
  const equals = entry.indexOf('=');
  return equals > 0
    ? spec(entry.slice(0, equals).trim(), entry.slice(equals + 1).trim(), base, from)
    : spec(undefined, entry, base, from);
}

function spec(name: string | undefined, dir: string, base: string, from: string): Spec {
  const path = resolve(base, dir);
  const setName = name ?? defaultSetName(path);
  if (!SET_NAME.test(setName) || setName === 'platform') {
    throw new ConfigError(
      `Migration set name "${setName}" (${dir}, configured in ${from}) is not allowed`,
      'A set name is 1-40 lowercase letters, digits and "_", starting with a letter, and not "platform"; ' +
        `give one explicitly ({ "name": "app", "dir": "${dir}" } in ${CONFIG_FILE}, or app=${dir} in the environment variable).`,
    );
  }
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) {
    throw new MigrationFilesError(
      path,
      `The migration folder ${path} (configured in ${from}) does not exist or is not a folder`,
      {
        hint: `Create it (mkdir -p ${dir}) or fix the path; folders are relative to ${base}.`,
      },
    );
  }
  return { name: setName, dir: path, from };
}

/** A folder's set name: its own name, lower-cased, other characters as "_" (`db/Tenant-SQL` → `tenant_sql`). */
function defaultSetName(path: string): string {
  return basename(path)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}

function checkNames(sets: readonly Spec[], kind: string): void {
  const seen = new Map<string, Spec>();
  for (const set of sets) {
    const other = seen.get(set.name);
    if (other) {
      throw new ConfigError(
        `Two ${kind} migration sets are named "${set.name}" (${other.dir} and ${set.dir})`,
        `Name them apart: { "name": "...", "dir": "..." } in ${CONFIG_FILE}, ` +
          `or name=folder in ${MIGRATION_ENV[kind as 'public']}.`,
      );
    }
    seen.set(set.name, set);
  }
}
