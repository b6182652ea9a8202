import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase, suspendTenant } from '../../db/src/index.js';
import { createTestDatabase, DROP_TIMEOUT_MS, type TestDatabase } from '../../db/test/helpers/database.js';
import { CLI_BIN, cleanEnv, cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

/**
 * `cgk tenant:exec` as a subprocess over 50 real tenants: each input form with 2 failing tenants, the
 * selection flags, --dry-run, and --resume of a run killed with SIGKILL halfway.
 */

const SLUGS = Array.from({ length: 50 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
const FAILING = ['t07', 't33'];

let scratch: TestDatabase;
let db: Database;
let work: ReturnType<typeof tempDir>;
const run = (args: string[], timeoutMs = 120_000) => cli(args, { cwd: work.path, env: { DATABASE_URL: scratch.url }, timeoutMs });

beforeAll(async () => {
  scratch = await createTestDatabase('cgk_exec');
  work = tempDir('cgk-exec-');
  db = new Database({ url: scratch.url });
  await setupDatabase({ db });
  for (let i = 0; i < SLUGS.length; i += 5)
    await Promise.all(SLUGS.slice(i, i + 5).map((slug) => createTenant({ slug }, { db })));
  await suspendTenant('t49', { db });
  await suspendTenant('t50', { db });
}, 300_000);

afterAll(async () => {
  work?.remove();
  await db?.end();
  await scratch?.drop();
}, DROP_TIMEOUT_MS);

/** Per tenant, how many customers rows carry this mark (what a run inserted). */
async function marks(mark: string): Promise<Map<string, number>> {
  const parts = SLUGS.map(
    (s) => `select '${s}' as slug, count(*)::int as n from tenant_${s}.customers where email like '${mark}@%'`,
  );
  const { rows } = await db.sql.query<{ slug: string; n: number }>(parts.join(' union all '));
  return new Map(rows.map((r) => [r.slug, r.n]));
}

/** SQL that inserts a mark, then fails in the FAILING tenants (division by zero), after the insert. */
const failingSql = (mark: string) =>
  `insert into customers (email) values ('${mark}@x.test');\n` +
  `select 1 / (case when current_schema() in (${FAILING.map((s) => `'tenant_${s}'`).join(', ')}) then 0 else 1 end) as one;`;

interface ExecJson {
  ok: boolean;
  run: { id: string; total: number };
  tenants: Array<{ slug: string; ok: boolean; rowCount?: number; rows?: unknown[]; value?: unknown; error?: { code: string } }>;
  succeeded: number;
  failed: number;
  error?: { code: string; message: string };
}

async function expectTwoFailed(args: string[], mark: string, code: string) {
  const r = await run(['--json', 'tenant:exec', '--all', ...args]);
  expect(r.code, r.stderr).toBe(1);
  const doc = json<ExecJson>(r);
  expect(doc).toMatchObject({ ok: false, succeeded: 48, failed: 2, error: { code: 'CGK_EXEC_FAILED' } });
  expect(doc.tenants.map((t) => t.slug).sort()).toEqual(SLUGS);
  const failed = doc.tenants.filter((t) => !t.ok).sort((a, b) => a.slug.localeCompare(b.slug));
  expect(failed.map((t) => [t.slug, t.error?.code])).toEqual(FAILING.map((s) => [s, code]));
  expectOneErrorLine(r, 'CGK_EXEC_FAILED');
  for (const [slug, n] of await marks(mark)) expect(n, slug).toBe(FAILING.includes(slug) ? 0 : 1);
  return doc;
}

describe('tenant:exec over 50 tenants, 2 failing', { timeout: 180_000 }, () => {
  it('--sql: typed errors in --json, exit 1, the other 48 committed', async () => {
    const doc = await expectTwoFailed(['--sql', failingSql('sql')], 'sql', 'CGK_QUERY');
    expect(doc.tenants.find((t) => t.slug === 't01')).toMatchObject({ ok: true, rowCount: 1, rows: [{ one: 1 }] });
  });

  it('--file', async () => {
    writeFileSync(join(work.path, 'fix.sql'), failingSql('file'));
    await expectTwoFailed(['--file', 'fix.sql'], 'file', 'CGK_QUERY');
  });

  it('--module (.mjs, default export async (sql, tenant) => result)', async () => {
    writeFileSync(
      join(work.path, 'fix.mjs'),
      `export default async (sql, tenant) => {
  await sql\`insert into customers (email) values (\${'module@x.test'})\`;
  if (${JSON.stringify(FAILING)}.includes(tenant.slug)) throw new Error('refused ' + tenant.slug);
  const { rows } = await sql\`select count(*)::int as n from customers\`;
  return { slug: tenant.slug, customers: rows[0].n };
};\n`,
    );
    const doc = await expectTwoFailed(['--module', 'fix.mjs'], 'module', 'CGK_EXEC_FAILED');
    expect(doc.tenants.find((t) => t.slug === 't02')?.value).toMatchObject({ slug: 't02' });
  });

  it('--module: a module without a default function is refused with CGK_EXEC_MODULE before any tenant', async () => {
    writeFileSync(join(work.path, 'none.mjs'), 'export const x = 1;\n');
    const r = await run(['tenant:exec', '--all', '--module', 'none.mjs']);
    expect(r.code).toBe(1);
    expect(expectOneErrorLine(r, 'CGK_EXEC_MODULE')).toMatch(/no default export function/);
  });

  it('prints one line per tenant and a summary in text mode', async () => {
    const r = await run(['tenant:exec', '--tenants', 't01,t07', '--sql', failingSql('text')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^t01 {2}ok {2}SELECT 1 {2}\(\d+ ms\)\n {2}\{"one":1\}$/m);
    expect(r.stdout).toMatch(/^t07 {2}FAILED {2}CGK_QUERY: division by zero/m);
    expect(r.stdout).toMatch(/^1 succeeded, 1 failed, of 2 tenants \(.*\) \(rerun the others: add --resume [0-9a-f-]{36}\)$/m);
  });
});

describe('tenant:exec selection', { timeout: 180_000 }, () => {
  const slugsOf = async (args: string[]) => {
    const r = await run(['--json', 'tenant:exec', ...args, '--sql', 'select 1']);
    expect(r.code, r.stderr).toBe(0);
    return json<ExecJson>(r)
      .tenants.map((t) => t.slug)
      .sort();
  };

  it('--tenants, --status, --all', async () => {
    expect(await slugsOf(['--tenants', 't03,t01'])).toEqual(['t01', 't03']);
    expect(await slugsOf(['--status', 'suspended'])).toEqual(['t49', 't50']);
    expect((await slugsOf(['--status', 'active'])).length).toBe(48);
    expect((await slugsOf(['--all'])).length).toBe(50);
  });

  it.each([
    ['no selection', ['--sql', 'select 1'], /--all for every tenant/],
    ['--all with --tenants', ['--all', '--tenants', 't01', '--sql', 'select 1'], /--all selects every tenant/],
    ['two inputs', ['--all', '--sql', 'select 1', '--file', 'x.sql'], /exactly one of --sql, --file and --module/],
    ['no input', ['--all'], /exactly one of/],
    ['--resume with a selection', ['--resume', 'x', '--all', '--sql', 'select 1'], /--resume keeps/],
    ['a bad --status', ['--status', 'gone', '--sql', 'select 1'], /--status/],
  ])('refuses %s as a usage error (exit 2), sending nothing', async (_label, args, message) => {
    const r = await run(['tenant:exec', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a bad slug with CGK_INVALID_SLUG before anything runs', async () => {
    const r = await run(['tenant:exec', '--tenants', 't01,Nope', '--sql', 'select 1']);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, 'CGK_INVALID_SLUG');
  });

  it('--dry-run lists the tenants and sends nothing to them', async () => {
    const r = await run(['--json', 'tenant:exec', '--status', 'suspended', '--dry-run', '--sql', failingSql('dry')]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ ok: true, dryRun: true, total: 2, tenants: [{ slug: 't49' }, { slug: 't50' }] });
    const text = await run(['tenant:exec', '--all', '--dry-run', '--sql', failingSql('dry')]);
    expect(text.stdout.split('\n').slice(0, 2)).toEqual(['t01', 't02']);
    expect(text.stdout).toMatch(/^50 tenants would run \(dry run: nothing was sent to any tenant\)$/m);
    expect([...(await marks('dry')).values()].every((n) => n === 0)).toBe(true);
  });

  it('has --help with examples', async () => {
    const r = await run(['tenant:exec', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n\s+\$ npx @cgk\/cli tenant:exec/);
    expect(r.stdout).toMatch(/--resume <run id>/);
  });
});

describe('tenant:exec --resume', { timeout: 180_000 }, () => {
  it('completes exactly the rest of a run killed with SIGKILL halfway: every tenant ran once', { timeout: 180_000 }, async () => {
    // Each tenant inserts its mark, then sleeps (so the kill lands while tenants are in flight).
    const sql = "insert into customers (email) values ('killed@x.test'); select pg_sleep(0.04)";
    const child = spawn(process.execPath, [CLI_BIN, 'tenant:exec', '--all', '--concurrency', '3', '--sql', sql], {
      cwd: work.path,
      env: cleanEnv({ DATABASE_URL: scratch.url }),
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if ((stdout.match(/ {2}ok {2}/g) ?? []).length >= 20) resolve();
      });
      child.on('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await exited;
    const id = /run ([0-9a-f-]{36})/.exec(stderr)?.[1];
    expect(id, stderr).toBeDefined();
    const before = await marks('killed');
    const done = [...before.values()].filter((n) => n === 1).length;
    expect(done).toBeGreaterThanOrEqual(20);
    expect(done).toBeLessThan(50);
    const resumed = await run(['--json', 'tenant:exec', '--resume', id!, '--sql', sql]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const doc = json<ExecJson>(resumed);
    expect(doc.run.total).toBe(50 - done);
    expect(doc.tenants.map((t) => t.slug).sort()).toEqual(SLUGS.filter((s) => before.get(s) === 0));
    for (const [slug, n] of await marks('killed')) expect(n, slug).toBe(1);
    // The record agrees: all 50 succeeded once; a second resume has nothing left to run.
    const { rows } = await db.sql<{ status: string; succeeded: number }>`
      select status, succeeded from public.fleet_runs where id = ${id}::uuid`;
    expect(rows[0]).toEqual({ status: 'finished', succeeded: 50 });
    const again = await run(['--json', 'tenant:exec', '--resume', id!, '--sql', sql]);
    expect(json<ExecJson>(again).tenants).toEqual([]);
  });

  it('refuses to resume with other work, or an unknown run', async () => {
    const first = await run(['--json', 'tenant:exec', '--tenants', 't01', '--sql', 'select 1']);
    const id = json<ExecJson>(first).run.id;
    const other = await run(['tenant:exec', '--resume', id, '--sql', 'select 2']);
    expect(expectOneErrorLine(other, 'CGK_EXEC_RUN')).toMatch(/ran other work/);
    const unknown = await run(['--json', 'tenant:exec', '--resume', '00000000-0000-0000-0000-000000000000', '--sql', 'select 1']);
    expect(json(unknown)).toMatchObject({ ok: false, error: { code: 'CGK_EXEC_RUN' } });
  });
});
