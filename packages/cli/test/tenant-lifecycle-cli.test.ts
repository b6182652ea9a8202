import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/helpers/database.js';
import { cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

// tenant:pending, tenant:clone, tenant:rename, tenant:create --seed and tenant:list --pending, as an operator runs them.

const DROP_TIMEOUT_MS = 300_000;
let db: TestDatabase;
let work: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: work.path, env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });

beforeAll(async () => {
  db = await createTestDatabase('cgk_cli_lifecycle');
  work = tempDir();
  expect((await run(['setup:database'])).code).toBe(0);
}, 180_000);
afterAll(async () => {
  work?.remove();
  await db?.drop();
}, DROP_TIMEOUT_MS);

describe('tenant lifecycle commands', () => {
  it('builds pending tenants, lists them apart, and tenant:create claims one', { timeout: 180_000 }, async () => {
    expect(json(await run(['tenant:pending', '--count', '2', '--json']))).toMatchObject({ ok: true, built: 2, pending: 2 });
    expect(json(await run(['tenant:list', '--json'])).tenants).toEqual([]);
    const pending = json(await run(['tenant:list', '--pending', '--json'])).tenants as Array<{ slug: string }>;
    expect(pending.map((t) => t.slug)).toEqual([expect.stringMatching(/^pending_/), expect.stringMatching(/^pending_/)]);
    const created = await run(['tenant:create', 'user']);
    expect(created.stdout).toMatch(/^Created tenant user \("user", active\): schema tenant_user from a pending tenant in /);
    expect((await run(['tenant:pending'])).stdout).toBe('1 pending tenant waiting to be claimed\n');
    const usage = await run(['tenant:pending', '--count', 'lots']);
    expect(usage.code).toBe(2);
  });

  it('seeds a tenant from a file, and leaves nothing when the seed fails', { timeout: 180_000 }, async () => {
    writeFileSync(join(work.path, 'good.sql'), "insert into customers (email) values ('a@example.com');\n");
    writeFileSync(
      join(work.path, 'bad.sql'),
      "insert into customers (email) values ('a@example.com');\ninsert into nowhere values (1);\n",
    );
    const bad = await run(['tenant:create', 'table', '--seed', 'bad.sql']);
    expect(bad.code).toBe(1);
    expect(expectOneErrorLine(bad, 'CGK_QUERY')).toMatch(/nowhere/);
    const missing = await run(['tenant:create', 'table', '--seed', 'absent.sql']);
    expect(expectOneErrorLine(missing, 'CGK_CONFIG')).toMatch(/absent\.sql/);
    expect(json(await run(['tenant:list', '--json'])).tenants.map((t: { slug: string }) => t.slug)).toEqual(['user']);
    expect((await run(['tenant:create', 'table', '--seed', 'good.sql'])).code).toBe(0);
  });

  it('clones and renames, refusing what cannot be done with one error line', { timeout: 180_000 }, async () => {
    const cloned = json(await run(['tenant:clone', 'table', 'select', '--with-data', '--json']));
    expect(cloned).toMatchObject({ ok: true, tenant: { slug: 'select', schema: 'tenant_select' }, withData: true });
    const renamed = json(await run(['tenant:rename', 'select', 'pg_x', '--json']));
    expect(renamed).toMatchObject({ ok: true, tenant: { slug: 'pg_x' }, from: 'select' });
    expect(expectOneErrorLine(await run(['tenant:rename', 'pg_x', 'user']), 'CGK_TENANT_EXISTS')).toMatch(/user/);
    expect(expectOneErrorLine(await run(['tenant:clone', 'nobody', 'x']), 'CGK_TENANT_NOT_FOUND')).toMatch(/nobody/);
    const slugs = json(await run(['tenant:list', '--json'])).tenants.map((t: { slug: string }) => t.slug);
    expect(slugs).toEqual(['pg_x', 'table', 'user']);
  });
});
