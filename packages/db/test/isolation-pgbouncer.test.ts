import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createMarkedTenants, runIsolationScenario } from './helpers/isolation.js';
import { startPgBouncer, type PgBouncerInstance } from './helpers/pgbouncer.js';

// Behind PgBouncer in transaction mode a session `SET search_path` leaks to whoever gets the server
// connection next (pgbouncer.test.ts shows it). withTenant sets the path transaction-locally, so it must not.
describe('withTenant through PgBouncer in transaction pooling mode', () => {
  let scratch: TestDatabase;
  let bouncer: PgBouncerInstance;
  let direct: Database;
  let pooled: Database;
  let slugs: string[];

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_bouncer_iso');
    direct = new Database({ url: scratch.url });
    slugs = await createMarkedTenants(direct, 'bnc', 5);
    bouncer = await startPgBouncer({ targetUrl: scratch.url, poolMode: 'transaction', defaultPoolSize: 2 });
    pooled = new Database({ url: bouncer.url });
  });
  afterAll(async () => {
    await pooled?.end();
    await direct?.end();
    await bouncer?.stop();
    await scratch?.drop();
  });

  async function rawSearchPath(): Promise<string> {
    const client = new pg.Client({ connectionString: bouncer.url });
    await client.connect();
    try {
      return (await client.query<{ path: string }>('select current_setting(\'search_path\') as path')).rows[0]!.path;
    } finally {
      await client.end();
    }
  }

  it('keeps every tenant to itself under hundreds of concurrent scopes', async () => {
    await runIsolationScenario(pooled, slugs, 300);
  });

  it('leaves no tenant on the server connections for the next client', async () => {
    for (let i = 0; i < 10; i++) {
      await pooled.withTenant(slugs[i % slugs.length]!, (sql) => sql`select tenant from marker`);
      expect(await rawSearchPath()).not.toContain('tenant_');
    }
  });

  it('is not fooled by a session search_path that another client leaked onto the server connection', async () => {
    const rogue = new pg.Client({ connectionString: bouncer.url });
    await rogue.connect();
    await rogue.query('set search_path to tenant_bnc0, public');
    await rogue.end();
    for (let i = 0; i < 6; i++) {
      const { rows } = await pooled.withTenant('bnc3', (sql) => sql<{ tenant: string }>`select tenant from marker`);
      expect(rows).toEqual([{ tenant: 'bnc3' }]);
    }
  });
});
