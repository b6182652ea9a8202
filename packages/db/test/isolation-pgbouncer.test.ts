import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/index.js';
import { type AppDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { createMarkedTenants, runIsolationScenario } from './helpers/isolation.js';
import { type PgBouncerInstance, pooledDatabase, type PooledDatabase } from './helpers/pgbouncer.js';

// Behind PgBouncer in transaction mode a session `SET search_path` leaks to whoever gets the server
// connection next (pgbouncer.test.ts shows it). withTenant sets the path transaction-locally, so it must not.
describe('withTenant through PgBouncer in transaction pooling mode', () => {
  let fixture: PooledDatabase;
  let app: AppDatabase;
  let pooled: Database;
  /** One server connection for every client: whoever connects next gets exactly the backend the last one used. */
  let single: PgBouncerInstance;
  let pooledSingle: Database;
  let slugs: string[];

  beforeAll(async () => {
    // As production connects: a non-superuser application role owning its database.
    fixture = await pooledDatabase({ prefix: 'cgk_bouncer_iso' });
    ({ app, pooled } = fixture);
    slugs = await createMarkedTenants(fixture.direct, 'bnc', 5);
    ({ bouncer: single, pooled: pooledSingle } = await fixture.another(1));
  }, 120_000);
  afterAll(async () => {
    await fixture?.teardown();
  }, DROP_TIMEOUT_MS);

  /** A plain client's view of the single server connection: its backend, search_path and user. */
  async function rawSession(): Promise<{ pid: number; path: string; who: string }> {
    const client = new pg.Client({ connectionString: single.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number; path: string; who: string }>(
        "select pg_backend_pid() as pid, current_setting('search_path') as path, current_user as who",
      );
      return rows[0]!;
    } finally {
      await client.end();
    }
  }

  it('keeps every tenant to itself under hundreds of concurrent scopes', async () => {
    await runIsolationScenario(pooled, slugs, 300);
  });

  it('leaves no tenant, and no tenant role, on the server connection for the next client', async () => {
    const backend = (await rawSession()).pid;
    for (let i = 0; i < 10; i++) {
      const inside = await pooledSingle.withTenant(
        slugs[i % slugs.length]!,
        (sql) => sql<{ pid: number; who: string }>`select pg_backend_pid() as pid, current_user as who from marker`,
      );
      // The scope ran on the one server connection the next client gets.
      expect(inside.rows[0]!.pid).toBe(backend);
      expect(inside.rows[0]!.who).toMatch(/^ct_/);
      const after = await rawSession();
      expect(after.pid).toBe(backend);
      expect(after.path).not.toContain('tenant_');
      expect(after.who).toBe(app.role);
    }
  });

  it('is not fooled by a session search_path that another client leaked onto the server connection', async () => {
    const rogue = new pg.Client({ connectionString: single.url });
    await rogue.connect();
    let roguePid: number;
    try {
      roguePid = (await rogue.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await rogue.query('set search_path to tenant_bnc0, public');
    } finally {
      await rogue.end();
    }
    // The leak is real: the next plain client gets the rogue's backend, and its search_path with it.
    expect(await rawSession()).toMatchObject({ pid: roguePid, path: 'tenant_bnc0, public' });
    for (let i = 0; i < 6; i++) {
      const { rows } = await pooledSingle.withTenant(
        'bnc3',
        (sql) => sql<{ tenant: string; pid: number }>`select tenant, pg_backend_pid() as pid from marker`,
      );
      // Same server connection as the rogue's, yet the scope sees its own tenant.
      expect(rows).toEqual([{ tenant: 'bnc3', pid: roguePid }]);
    }
  });
});
