import { ConfigError } from './errors/index.js';

/**
 * The optional peer dependencies of @cgk/db: each is loaded only when the feature that needs it is used,
 * so importing the library loads none of them and a plain-PostgreSQL app installs none of them.
 */
const NEEDED_FOR = {
  '@electric-sql/pglite': 'the embedded PostgreSQL (no DATABASE_URL, or CGK_DB_DRIVER=pglite)',
  '@neondatabase/serverless': 'the Neon driver (CGK_DB_DRIVER=neon)',
  '@vercel/postgres': 'the @vercel/postgres driver (CGK_DB_DRIVER=vercel, or a URL on Vercel)',
  ws: 'the Neon and @vercel/postgres drivers (their WebSocket in Node)',
  ioredis: 'the Redis tenant cache (REDIS_URL)',
} as const;

/** The name of an optional peer dependency. */
export type OptionalPackage = keyof typeof NEEDED_FOR;

/**
 * Runs `load`, a dynamic import of exactly `name`. When the package is not installed, throws a `ConfigError`
 * (code `CGK_CONFIG`) that names the package and the command to install it; any other failure (a broken
 * install, an error inside the package) passes through unchanged.
 *
 * Call sites write `import(/* webpackIgnore: true *\/ 'name')`: a bundler (Next.js) then leaves the import to
 * Node at run time instead of failing the build when the package is absent.
 */
export async function loadOptional<T>(name: OptionalPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isNotInstalled(error, name)) throw error;
    throw new ConfigError(
      `${name} is not installed: @cgk/db needs it for ${NEEDED_FOR[name]}`,
      `Install it next to @cgk/db: npm install ${name}`,
    );
  }
}

function isNotInstalled(error: unknown, name: string): boolean {
  const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Only the package itself: a dependency missing inside it is a broken install, reported as it is.
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`"${name}"`));
}
