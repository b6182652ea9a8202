import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../db/test/helpers/database.js';
import { cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

/** `cgk tenant:export`, `tenant:import`, `tenant:move --to` as subprocesses against scratch databases. */

let one: TestDatabase;
let two: TestDatabase;
let work: ReturnType<typeof tempDir>;
const run = (args: string[], url = one.url) => cli(args, { cwd: work.path, env: { DATABASE_URL: url } });

beforeAll(async () => {
  [one, two] = await Promise.all([createTestDatabase('cgk_cli_xfer'), createTestDatabase('cgk_cli_xfer2')]);
  work = tempDir();
  for (const url of [one.url, two.url]) expect((await run(['setup:database'], url)).code).toBe(0);
  expect((await run(['tenant:create', 'acme'])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  work?.remove();
  await Promise.all([one?.drop(), two?.drop()]);
}, 300_000);

describe('tenant transfer commands', () => {
  it('exports, and imports under another slug, with --json documents', async () => {
    const exported = await run(['tenant:export', 'acme', '--out', 'acme.cgk', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(json(exported)).toMatchObject({ ok: true, file: 'acme.cgk', manifest: { slug: 'acme' } });
    const imported = await run(['tenant:import', 'acme.cgk', '--as', 'acme_copy']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^Imported tenant acme_copy \(active\) from acme\.cgk: 0 rows .*a new organization id/);
  });

  it('refuses a truncated file with exit 1 and CGK_EXPORT_INVALID, creating nothing', async () => {
    const whole = readFileSync(join(work.path, 'acme.cgk'));
    writeFileSync(join(work.path, 'cut.cgk'), whole.subarray(0, whole.length - 20));
    const r = await run(['tenant:import', 'cut.cgk', '--as', 'cut']);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, 'CGK_EXPORT_INVALID');
    const { rows } = await adminQuery(`select 1 from pg_database where datname = $1`, [one.name]);
    expect(rows).toHaveLength(1);
    const list = json(await run(['tenant:list', '--json']));
    expect(list.tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme', 'acme_copy']);
  });

  it('moves a tenant to another database, and refuses the move back onto a database that has it', async () => {
    const moved = await run(['tenant:move', 'acme_copy', '--to', two.url]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/^Moved tenant acme_copy \(0 rows\) in .*; its writes waited/);
    expect(json(await run(['tenant:list', '--json'], two.url)).tenants.map((t: { slug: string }) => t.slug)).toEqual([
      'acme_copy',
    ]);
    expect(json(await run(['tenant:list', '--json'])).tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme']);
    const again = await run(['tenant:move', 'acme', '--to', one.url]);
    expect(again.code).toBe(1);
    expectOneErrorLine(again, 'CGK_TENANT_EXISTS');
  });
});
