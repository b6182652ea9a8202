import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactSecrets } from '../../src/errors.js';
import { tagOfDatabase } from '../../src/roles.js';

/** The server the tests run against; `scripts/services.sh` (run by `npm test`) makes sure it is up. */
export const ADMIN_URL = process.env.CGK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Runs one statement on the admin connection; fails loudly (never skips) when the server is down. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(redactSecrets(`Test PostgreSQL at ${ADMIN_URL} is unreachable (${(error as Error).message}). Run: npm run services`));
  }
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of its own for one test file, so files can run in parallel. */
export async function createTestDatabase(prefix = 'cgk_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`create database "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      await adminQuery(`drop database if exists "${name}" with (force)`);
      await dropTenantRolesOf(name);
    },
  };
}

/** Tenant roles are cluster-wide: drop the ones a test database made (they carry its tag, see src/roles.ts). */
export async function dropTenantRolesOf(database: string): Promise<void> {
  const tag = tagOfDatabase(database);
  const { rows } = await adminQuery<{ rolname: string }>(`select rolname from pg_roles where rolname like $1`, [`ct\\_${tag}\\_%`]);
  // Batches: a scale run leaves 10,000 of them.
  for (let i = 0; i < rows.length; i += 500) {
    await adminQuery(`drop role if exists ${rows.slice(i, i + 500).map((r) => `"${r.rolname}"`).join(', ')}`);
  }
}
