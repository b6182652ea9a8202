import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

/**
 * A newcomer's first commands with no DATABASE_URL: the embedded PostgreSQL (PGlite) under ./.cgk/pglite in
 * the working directory. One sequence, since the first open of a data directory takes several seconds.
 */
describe('embedded mode (no DATABASE_URL)', () => {
  let work: ReturnType<typeof tempDir>;
  const run = (args: string[]) => cli(args, { cwd: work.path, timeoutMs: 90_000 });

  beforeAll(() => {
    work = tempDir('cgk-embedded-');
  });
  afterAll(() => work?.remove());

  it('refuses tenant:* and migrate:status before setup:database without building the embedded database', async () => {
    for (const args of [['tenant:create', 'acme'], ['tenant:list'], ['migrate:status']]) {
      const refused = await run(args);
      expect(refused.code, refused.stderr).toBe(1);
      expect(expectOneErrorLine(refused, 'CGK_CONFIG')).toMatch(
        /embedded database in \.\/\.cgk\/pglite has not been set up yet \(hint: Run: npx @cgk\/cli setup:database\)/,
      );
    }
    expect(existsSync(join(work.path, '.cgk'))).toBe(false);
  });

  it('setup:database, tenant:create, tenant:list, and a duplicate refused', { timeout: 240_000 }, async () => {
    const setup = await run(['setup:database']);
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stderr).toMatch(/^cgk: DATABASE_URL is not set: using the embedded PostgreSQL in \.\/\.cgk\/pglite/);
    expect(setup.stderr.trim().split('\n')).toHaveLength(1);
    expect(setup.stdout).toMatch(/Database ready: pglite/);
    expect(existsSync(join(work.path, '.cgk/pglite'))).toBe(true);

    const create = await run(['tenant:create', 'acme']);
    expect(create.code, create.stderr).toBe(0);
    expect(create.stdout).toMatch(/^Created tenant acme/);

    const list = await run(['tenant:list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(json(list)).toMatchObject({ ok: true, tenants: [{ slug: 'acme', schema: 'tenant_acme' }] });
    expect(list.stderr).toMatch(/embedded PostgreSQL/);

    const duplicate = await run(['tenant:create', 'acme']);
    expect(duplicate.code).toBe(1);
    expectOneErrorLine(duplicate, 'CGK_TENANT_EXISTS');
  });
});
