import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_MIGRATIONS, type EmbeddedFile } from './embedded.js';

/**
 * Where the built-in migrations live: `public/` and `tenant/` beside this module (in the built package, the
 * directory the build copied them to, relative to the bundle). The directory is computed
 * from the module's own path rather than with `new URL('./public/', import.meta.url)`, which bundlers take for
 * an asset to copy (and fail on, for a directory).
 */
const HERE = EMBEDDED_MIGRATIONS ? join(moduleDirectory(), EMBEDDED_MIGRATIONS.dir) : moduleDirectory();

/** The built-in public migrations (platform tables). */
export const DEFAULT_PUBLIC_DIR = join(HERE, 'public');
/** The built-in tenant migrations (one schema per tenant). */
export const DEFAULT_TENANT_DIR = join(HERE, 'tenant');

/**
 * The embedded text of a built-in directory (the built package carries its SQL in the code), or undefined:
 * another directory, or the sources, which are read from disk.
 */
export function embeddedFiles(dir: string): readonly EmbeddedFile[] | undefined {
  if (!EMBEDDED_MIGRATIONS) return undefined;
  const path = resolve(dir);
  if (path === resolve(DEFAULT_PUBLIC_DIR)) return EMBEDDED_MIGRATIONS.public;
  if (path === resolve(DEFAULT_TENANT_DIR)) return EMBEDDED_MIGRATIONS.tenant;
  return undefined;
}

function moduleDirectory(): string {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    // A bundle that gives modules no file URL: the embedded files are used, the path only names them.
    return resolve('node_modules/@cgk/db/dist');
  }
}
