import { Database, createTenant, setupDatabase } from '../../src/index.js';
import { adminQuery, createAppDatabase, type AppDatabase } from './database.js';

/**
 * A scratch database for login-mode tests: set up, with `slugs` created in login mode under `secret`. The
 * application role gets `appPassword`, since PgBouncer checks passwords (the server itself trusts 127.0.0.1).
 * `seed` runs on the same Database before it is ended.
 */
export async function loginModeDatabase(
  prefix: string,
  options: { secret: string; appPassword: string; slugs: string[]; seed?: (db: Database) => Promise<unknown> },
): Promise<AppDatabase> {
  const app = await createAppDatabase(prefix);
  await adminQuery(`alter role "${app.role}" password '${options.appPassword}'`);
  const db = new Database({ url: app.url, tenantRoles: 'login', tenantRoleSecret: options.secret });
  try {
    await setupDatabase({ db });
    for (const slug of options.slugs) await createTenant({ slug }, { db });
    await options.seed?.(db);
  } finally {
    await db.end();
  }
  return app;
}
