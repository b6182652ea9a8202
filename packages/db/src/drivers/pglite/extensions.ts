import type { Extension } from '@electric-sql/pglite';

/**
 * The extensions the embedded PostgreSQL can create, as on a server (docs/setup/DATABASE.md, "Adding your own
 * tables"): uuid-ossp, pgcrypto, citext and pg_trgm, from PGlite's contrib. PGlite only knows an extension it
 * was given when it started; each is a few kilobytes, unpacked at start, and nothing exists in the database
 * until a migration runs CREATE EXTENSION.
 */
export async function contribExtensions(): Promise<Record<string, Extension>> {
  const [uuid, crypto, ci, trgm] = await Promise.all([
    import(/* webpackIgnore: true */ '@electric-sql/pglite/contrib/uuid_ossp'),
    import(/* webpackIgnore: true */ '@electric-sql/pglite/contrib/pgcrypto'),
    import(/* webpackIgnore: true */ '@electric-sql/pglite/contrib/citext'),
    import(/* webpackIgnore: true */ '@electric-sql/pglite/contrib/pg_trgm'),
  ]);
  return { uuid_ossp: uuid.uuid_ossp, pgcrypto: crypto.pgcrypto, citext: ci.citext, pg_trgm: trgm.pg_trgm };
}
