import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

/**
 * Proves the harness is a real transaction-mode PgBouncer with ONE server connection:
 * session state set by one client leaks to the next one, transaction-local state does not.
 * That leak is exactly what the library must never rely on (or cause).
 */
describe('PgBouncer test harness (transaction mode, pool of one)', () => {
  let database: TestDatabase | undefined;
  let bouncer: PgBouncerInstance | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('cgk_pgbouncer');
    bouncer = await startPgBouncer({ targetUrl: database.url, poolMode: 'transaction', defaultPoolSize: 1 });
  });

  afterAll(async () => {
    // PgBouncer holds a server connection to the database: stop it before dropping the database
    await bouncer?.stop();
    await database?.drop();
  }, DROP_TIMEOUT_MS);

  async function withClient<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    if (!bouncer) throw new Error('PgBouncer was not started');
    const client = new pg.Client({ connectionString: bouncer.url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  async function searchPath(client: pg.Client): Promise<string> {
    const result = await client.query<{ search_path: string }>('show search_path');
    return result.rows[0]!.search_path;
  }

  it('returns a url for the same database on a local port', () => {
    expect(bouncer!.url).toBe(`postgres://postgres@127.0.0.1:${bouncer!.port}/${database!.name}`);
  });

  it('serves every client from the same single server connection', async () => {
    const first = await withClient(
      async (c) =>
        (await c.query<{ pid: number; db: string }>('select pg_backend_pid() as pid, current_database() as db')).rows[0]!,
    );
    const second = await withClient(async (c) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!);
    expect(first.db).toBe(database!.name);
    expect(second.pid).toBe(first.pid);
  });

  it('leaks a session-level SET search_path from one client to the next', async () => {
    const before = await withClient(searchPath);
    expect(before).not.toContain('leaked_schema');

    await withClient(async (c) => {
      await c.query('SET search_path TO leaked_schema');
      expect(await searchPath(c)).toBe('leaked_schema');
    });

    // a different client, after the first one is gone: it gets the same backend, with its session state
    expect(await withClient(searchPath)).toBe('leaked_schema');

    // put the shared backend back the way it was for the next test
    await withClient((c) => c.query('RESET search_path'));
    expect(await withClient(searchPath)).toBe(before);
  });

  it('does not leak set_config(..., true) made inside a transaction', async () => {
    const before = await withClient(searchPath);

    await withClient(async (c) => {
      await c.query('BEGIN');
      await c.query("select set_config('search_path', 'x', true)");
      expect(await searchPath(c)).toBe('x');
      await c.query('COMMIT');
    });

    const after = await withClient(searchPath);
    expect(after).toBe(before);
    expect(after).not.toBe('x');
  });
});
