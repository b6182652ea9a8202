import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/helpers/database.js';
import { cli, json, tempDir } from './helpers/cli.js';
import pg from 'pg';

/** `migrate`'s waves and `migration:new` through the CLI, in an app with its own tenant set (cgk.config.json). */
describe('migrate waves and migration:new (CLI)', () => {
  let scratch: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  const run = (args: string[]) => cli(args, { cwd: work.path, env: { DATABASE_URL: scratch.url }, timeoutMs: 120_000 });
  const query = async (text: string) => {
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    try {
      return (await client.query(text)).rows;
    } finally {
      await client.end();
    }
  };
  /** The tenants with rows of the app's set in their schema_migrations. */
  const migrated = async (slugs: string[]) => {
    const found: string[] = [];
    for (const slug of slugs) {
      const rows = await query(`select count(*)::int as n from tenant_${slug}.schema_migrations where migration_set = 'tenant'`);
      if (rows[0].n > 0) found.push(slug);
    }
    return found;
  };

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_cli_waves');
    work = tempDir('cgk-waves-');
    expect((await run(['setup:database'])).code).toBe(0);
    for (const slug of ['w_a', 'w_b', 'w_c', 'w_d']) expect((await run(['tenant:create', slug])).code).toBe(0);
    mkdirSync(join(work.path, 'db/tenant'), { recursive: true });
    writeFileSync(join(work.path, 'cgk.config.json'), JSON.stringify({ migrations: { tenant: ['db/tenant'] } }));
  }, 300_000);
  afterAll(async () => {
    work?.remove();
    await scratch?.drop();
  }, 300_000);

  it('migration:new writes the next numbered file of the app set', { timeout: 120_000 }, async () => {
    const made = await run(['migration:new', 'flags']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/Created .*db\/tenant\/001_flags\.sql \(tenant set "tenant", version 1\)/);
    // 001 fails in a tenant that has a table named boom.
    writeFileSync(
      join(work.path, 'db/tenant/001_flags.sql'),
      "-- flags\ncreate table flags (n int);\ninsert into flags select 1 / (case when to_regclass('boom') is null then 1 else 0 end);\n",
    );
    expect(existsSync(join(work.path, 'db/tenant/001_flags.sql'))).toBe(true);
  });

  it('--canary stops on a failing tenant with the rest untouched; --tenants selects', { timeout: 300_000 }, async () => {
    await query('create table tenant_w_b.boom ()');
    const canary = await run(['migrate', '--canary', '2', '--concurrency', '4', '--json']);
    expect(canary.code).toBe(1);
    const doc = json(canary);
    expect(doc.error.code).toBe('CGK_MIGRATION');
    expect(doc.tenants).toMatchObject({ stopped: 'canary', notStarted: 2 });
    expect(doc.tenants.failed.map((f: { slug: string }) => f.slug)).toEqual(['w_b']);
    expect(await migrated(['w_a', 'w_b', 'w_c', 'w_d'])).toEqual(['w_a']);
    const text = await run(['migrate', '--canary', '1']);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('stopped: a canary tenant failed; 2 pending tenants not started (untouched)');
    const selected = await run(['migrate', '--tenants', 'w_c']);
    expect(selected.code, selected.stderr).toBe(0);
    expect(await migrated(['w_a', 'w_b', 'w_c', 'w_d'])).toEqual(['w_a', 'w_c']);
  });

  it('refuses bad flag values as usage errors, before anything runs', { timeout: 300_000 }, async () => {
    for (const args of [
      ['--lock-timeout', 'soon'],
      ['--max-failures', '0'],
      ['--canary', '-1'],
      ['--tenants', ','],
    ]) {
      const refused = await run(['migrate', ...args]);
      expect(refused.code, args.join(' ')).toBe(2);
    }
    expect(await migrated(['w_a', 'w_b', 'w_c', 'w_d'])).toEqual(['w_a', 'w_c']);
  });
});
