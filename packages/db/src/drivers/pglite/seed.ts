/**
 * A prepared data directory for the embedded PostgreSQL. Creating a PGlite database runs initdb (a second
 * WebAssembly program), which dominates a first start in time and memory; unpacking a data directory that
 * initdb already made avoids it (docs/BENCHMARKS.md, "The embedded first run"). `npm run build`
 * makes the archive (buildPgliteSeed) for the PGlite version installed at build time; a new database is
 * unpacked from it when the versions match, and made by initdb otherwise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's `dist/` folder: three levels up from src/drivers/pglite (tests, tsx); the built package is
 * bundled into dist/ or dist/drivers (scripts/build.mjs). Not `new URL('../../dist/', import.meta.url)`: bundlers (Next.js) take
 * that for an asset to copy.
 */
const DIST = distDirectory();

function distDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (basename(here) === 'pglite' && basename(dirname(here)) === 'drivers') return join(here, '../../../dist');
  return basename(here) === 'drivers' ? join(here, '../../dist') : here;
}

/** The installed PGlite version, or undefined when it cannot be read. */
export function installedPgliteVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    let dir = dirname(entry);
    for (let i = 0; i < 4 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
    const version: unknown = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the archive for `version` lives: `pglite-seed-<version>.tgz` in `CGK_PGLITE_SEED_DIR` when set, else in
 * this package's `dist/`. The published @cgk/db leaves the archive out (4 MB that a PostgreSQL user never
 * needs); @cgk/cli ships it and its `cgk` command sets `CGK_PGLITE_SEED_DIR` to its own dist/.
 */
export function pgliteSeedPath(version = installedPgliteVersion()): string | undefined {
  return version === undefined ? undefined : join(process.env.CGK_PGLITE_SEED_DIR || DIST, `pglite-seed-${version}.tgz`);
}

/**
 * The archive to create a database from, or undefined: when `dataDir` already holds a database (PGlite
 * refuses to load over one), or when no archive was built for the installed PGlite version.
 */
export async function pgliteSeedFor(dataDir: string | undefined): Promise<Blob | undefined> {
  if (dataDir !== undefined && existsSync(join(dataDir, 'PG_VERSION'))) return undefined;
  const path = pgliteSeedPath();
  if (path === undefined || !existsSync(path)) return undefined;
  try {
    return new Blob([await readFile(path)]);
  } catch {
    return undefined;
  }
}

/**
 * Makes the archive: a fresh in-memory PGlite (initdb runs once, here), dumped gzipped. Written to a
 * temporary name and renamed, so a reader never sees half a file. Run by `npm run build`.
 */
export async function buildPgliteSeed(path = pgliteSeedPath()): Promise<{ path: string; bytes: number }> {
  if (path === undefined) throw new Error('@electric-sql/pglite is not installed: no embedded data directory to prepare');
  const { PGlite } = await import(/* webpackIgnore: true */ '@electric-sql/pglite');
  const db = await PGlite.create();
  let archive: Uint8Array;
  try {
    await db.query('select 1');
    archive = new Uint8Array(await (await db.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await db.close();
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, archive);
  await rename(`${path}.tmp`, path);
  return { path, bytes: archive.byteLength };
}
