import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase } from '../../db/src/index.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from '../../db/test/helpers/database.js';
import { cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

/** `cgk tenant:stats` and `cgk tenant:limits`, the real binary against a scratch database. */

let scratch: TestDatabase;
let work: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: work.path, env: { DATABASE_URL: scratch.url } });

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_cli_stats');
  work = tempDir();
  const db = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db });
    for (const slug of ['hot', 'cold']) await createTenant({ slug }, { db });
    const scopes = (slug: string, n: number) =>
      Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          for (let k = i; k < n; k += 4) await db.withTenant(slug, (sql) => sql`select count(*) from orders`);
        }),
      );
    await scopes('hot', 1000);
    await scopes('cold', 10);
  } finally {
    await db.end(); // its backends flush their counters as they exit
  }
});
afterAll(async () => {
  work?.remove();
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

describe('cgk tenant:stats', () => {
  it('ranks the tenant that ran 1,000 scopes above the one that ran 10', async () => {
    const result = await run(['tenant:stats', '--top', '20', '--json']);
    expect(result.code).toBe(0);
    const report = json(result);
    expect(report.ok).toBe(true);
    expect(report.rows.map((r: { slug: string }) => r.slug)).toEqual(['hot', 'cold']);
    expect(report.rows[0].scans).toBeGreaterThanOrEqual(1000);
    const text = await run(['tenant:stats']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^SLUG +CALLS +TIME/m);
    expect(text.stdout.indexOf('hot')).toBeLessThan(text.stdout.indexOf('cold'));
    expect(text.stdout).toMatch(/2 tenants of 2, by (activity|calls)/);
  });

  it('refuses a bad --top as a usage error', async () => {
    const result = await run(['tenant:stats', '--top', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--top must be a whole number/);
  });
});

describe('cgk tenant:limits', () => {
  it('sets, shows and clears limits; refuses bad values and unknown tenants, changing nothing', async () => {
    const set = await run([
      'tenant:limits',
      'hot',
      '--statement-timeout',
      '250ms',
      '--work-mem',
      '16MB',
      '--max-scopes',
      '3',
      '--json',
    ]);
    expect(set.code).toBe(0);
    expect(json(set)).toMatchObject({ ok: true, own: { statementTimeoutMs: 250, workMemKb: 16384, maxScopes: 3 } });
    const bad = await run(['tenant:limits', 'hot', '--statement-timeout', 'forever']);
    expect(bad.code).toBe(1);
    expectOneErrorLine(bad, 'CGK_INVALID_LIMIT');
    expectOneErrorLine(await run(['tenant:limits', 'nobody', '--max-scopes', '2']), 'CGK_TENANT_NOT_FOUND');
    const shown = await run(['tenant:limits', 'hot']);
    expect(shown.stdout).toMatch(/statement timeout +250 ms/);
    expect(shown.stdout).toMatch(/max scopes +3 \(in force: 3, tenant\)/);
    const cleared = await run(['tenant:limits', 'hot', '--statement-timeout', 'default', '--json']);
    expect(json(cleared).own).toEqual({ statementTimeoutMs: null, workMemKb: 16384, maxScopes: 3 });
  });
});
