import { expect } from 'vitest';
import { type Database, identifier, sql } from '../../src/index.js';
import { grantTenantRoleSql } from '../../src/roles/tenant-role.js';

/** Creates `count` tenant schemas, each with a `marker` table naming its tenant and an empty `events` table. */
export async function createMarkedTenants(db: Database, prefix: string, count: number): Promise<string[]> {
  const slugs = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const driver = await db.driver();
  for (const slug of slugs) {
    await driver.exec(`create schema tenant_${slug};
      create table tenant_${slug}.marker (tenant text not null);
      insert into tenant_${slug}.marker values ('${slug}');
      create table tenant_${slug}.events (op int primary key, tenant text not null)`);
    if (db.tenantRoles) await driver.exec(grantTenantRoleSql(slug, { existingTables: true }));
  }
  return slugs;
}

class Planned extends Error {}

/**
 * Hundreds of concurrent scopes over many tenants, a third of them throwing midway after a write. Each scope
 * checks that every read sees its own tenant (through the bound tag and the module-level `sql`), plain
 * queries interleaved with the scopes see no tenant in `search_path`, and afterwards exactly the committed
 * writes exist, each in its own tenant.
 */
export async function runIsolationScenario(db: Database, slugs: string[], scopes = 300): Promise<void> {
  const committed = new Map<string, number[]>(slugs.map((s) => [s, []]));
  const work = Array.from({ length: scopes }, async (_, op) => {
    const slug = slugs[op % slugs.length]!;
    const fails = op % 3 === 0;
    try {
      await db.withTenant(slug, async (scoped) => {
        // Two statements: on Citus a query on a tenant table runs whole on the tenant's worker, where
        // current_setting('search_path') is the worker's own; the scope's path lives on the coordinator.
        const before = await scoped<{ tenant: string }>`select tenant from marker`;
        const path = await scoped<{ path: string }>`select current_setting('search_path') as path`;
        expect([...before.rows, ...path.rows]).toEqual([{ tenant: slug }, { path: `tenant_${slug}, extensions, public` }]);
        await scoped`insert into events (op, tenant) values (${op}, ${slug})`;
        await new Promise((r) => setTimeout(r, op % 5));
        const after = await sql<{ tenant: string }>`select tenant from marker`;
        expect(after.rows).toEqual([{ tenant: slug }]);
        if (fails) throw new Planned(`op ${op}`);
      });
      committed.get(slug)!.push(op);
    } catch (error) {
      if (!(error instanceof Planned)) throw error;
    }
  });
  const outside = Array.from({ length: 40 }, async () => {
    const { rows } = await db.sql<{ path: string }>`select current_setting('search_path') as path`;
    expect(rows[0]!.path).not.toContain('tenant_');
  });
  await Promise.all([...work, ...outside]);

  for (const slug of slugs) {
    const { rows } = await db.sql<{
      op: number;
      tenant: string;
    }>`select op, tenant from ${identifier(`tenant_${slug}`, 'events')} where op < ${scopes} order by op`;
    expect(rows.map((r) => r.op)).toEqual(committed.get(slug)!.sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.tenant))).toEqual(new Set(rows.length ? [slug] : []));
  }
  const { rows } = await db.sql<{ path: string }>`select current_setting('search_path') as path`;
  expect(rows[0]!.path).not.toContain('tenant_');
}
