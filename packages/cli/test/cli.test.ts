import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { tenantRoleName } from '../../db/src/roles/tenant-role.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../db/test/helpers/database.js';
import { REPO_ROOT, cleanEnv, cli, expectOneErrorLine, json, tempDir, type CliRun } from './helpers/cli.js';
import { closedPort } from '../../db/test/helpers/net.js';

/**
 * The real `cgk` binary as a subprocess against a scratch database on the local server: exit codes, output,
 * the --json shape, refusals that leave nothing behind, usage errors, unreachable servers.
 */

let db: TestDatabase;
let work: ReturnType<typeof tempDir>;
const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cli(args, { cwd: work.path, env: { DATABASE_URL: db.url, ...env } });

beforeAll(async () => {
  db = await createTestDatabase('cgk_cli');
  work = tempDir();
});

// DROP DATABASE waits for a checkpoint, which takes long on a busy server.
afterAll(async () => {
  work?.remove();
  await db?.drop();
}, 300_000);

/** Runs statements on the scratch database directly (not through the CLI). */
async function sqlOnScratch(statements: string[]): Promise<void> {
  const { Client } = (await import('pg')).default;
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    for (const text of statements) await client.query(text);
  } finally {
    await client.end();
  }
}

/** The tenant schemas in the scratch database, read directly (not through the CLI). */
async function tenantSchemas(): Promise<string[]> {
  const { Client } = (await import('pg')).default;
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(
      "select nspname from pg_namespace where nspname like 'tenant\\_%' order by 1",
    );
    return rows.map((r) => r.nspname);
  } finally {
    await client.end();
  }
}

const COMMANDS = [
  'setup:database',
  'tenant:create',
  'tenant:list',
  'tenant:suspend',
  'tenant:activate',
  'tenant:repair',
  'tenant:drop',
  'tenant:pending',
  'tenant:clone',
  'tenant:rename',
  'tenant:exec',
  'tenant:export',
  'tenant:import',
  'tenant:move',
  'tenant:stats',
  'tenant:limits',
  'migrate',
  'migrate:status',
  'migration:new',
  'doctor',
  'console',
];

describe('help and usage errors', () => {
  it('prints help listing every command, exit 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const command of COMMANDS) {
      expect(r.stdout).toContain(command);
    }
    expect(r.stdout).toMatch(/--json/);
    const viaHelp = await run(['help', 'tenant:drop']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toContain('Usage: cgk tenant:drop');
  });

  it('has --help with a description and an example for each command', async () => {
    for (const command of COMMANDS) {
      const r = await run([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.stdout, command).toContain(`Usage: cgk ${command}`);
      expect(r.stdout, command).toMatch(new RegExp(`Examples?:\\n\\s+\\$ npx @cgk/cli ${command}`));
    }
  });

  it.concurrent.each([
    ['an unknown command', ['tenant:lst'], /unknown command 'tenant:lst'.*tenant:list/],
    ['an unknown option', ['tenant:list', '--bogus'], /unknown option '--bogus'/],
    ['a missing argument', ['tenant:create'], /missing required argument 'slug'/],
    ['an extra argument', ['tenant:suspend', 'a', 'b'], /too many arguments/],
    ['a bad --status', ['tenant:list', '--status', 'deleted'], /--status.*deleted.*active, suspended, onboarding/],
    ['a bad --concurrency', ['migrate', '--concurrency', 'zero'], /--concurrency/],
    ['a missing option value', ['tenant:create', 'acme', '--name'], /argument missing/],
  ])('refuses %s with exit 2 and one line', async (_label, args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cgk: usage error: /);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('reports a usage error as JSON with --json', async () => {
    const r = await run(['--json', 'tenant:lst']);
    expect(r.code).toBe(2);
    expect(json(r)).toMatchObject({ ok: false, error: { code: 'CGK_USAGE' } });
  });

  it('prints help on stderr and exits 2 without a command, as a usage error (one JSON document with --json)', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: cgk');
    expect(r.stderr).toMatch(/^cgk: usage error: no command given/m);
    const j = await run(['--json']);
    expect(j.code).toBe(2);
    expect(json(j)).toMatchObject({ ok: false, error: { code: 'CGK_USAGE' } });
  });

  it('prints its version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('against a PostgreSQL server', () => {
  it('refuses tenant:create before setup:database, with a hint', async () => {
    const r = await run(['tenant:create', 'acme']);
    expect(r.code).toBe(1);
    expect(expectOneErrorLine(r, 'CGK_CONFIG')).toMatch(/setup:database/);
  });

  it('setup:database applies the public migrations, then finds nothing to do', async () => {
    const first = await run(['setup:database', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const report = json(first);
    expect(report).toMatchObject({ ok: true, driver: 'pg', alreadyApplied: 0 });
    expect(report.applied.length).toBeGreaterThanOrEqual(6);
    expect(report.tables).toEqual(
      expect.arrayContaining(['organizations', 'users', 'sessions', 'api_keys', 'billing', 'magic_links']),
    );
    const again = await run(['setup:database']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Database ready: pg/);
    expect(again.stdout).toMatch(/up to date/);
    expect(again.stderr).toBe('');
  });

  it('tenant:create creates a queryable tenant and reports it', async () => {
    const r = await run(['tenant:create', 'acme', '--name', 'Acme Inc.', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r);
    expect(doc).toMatchObject({
      ok: true,
      tenant: { slug: 'acme', name: 'Acme Inc.', schema: 'tenant_acme', status: expect.any(String) },
    });
    expect(doc.migrationsApplied).toBeGreaterThanOrEqual(5);
    expect(new Date(doc.tenant.createdAt).getTime()).not.toBeNaN();
    const text = await run(['tenant:create', 'globex']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Created tenant globex \("globex", \w+\): schema tenant_globex with \d+ migrations in \d/);
    expect(await tenantSchemas()).toEqual(['tenant_acme', 'tenant_globex']);
  });

  it('refuses a duplicate slug', async () => {
    const r = await run(['tenant:create', 'acme']);
    expect(r.code).toBe(1);
    expect(expectOneErrorLine(r, 'CGK_TENANT_EXISTS')).toMatch(/"acme" already exists \(hint: /);
  });

  it.concurrent.each([
    ['upper case', 'Acme'],
    ['a hyphen', 'acme-store'],
    ['a space', 'acme store'],
    ['a single quote', "acme'"],
    ['a double quote', 'ac"me'],
    ['an injection attempt', 'x; drop schema public cascade; --'],
    ['a quoted injection', "x'); drop table public.organizations; --"],
    ['empty', ''],
    ['too long', 'a'.repeat(57)],
    ['a leading underscore', '_acme'],
    ['non-ASCII', 'café'],
    ['a leading digit', '1acme'],
  ])('refuses a slug with %s: exit 1, one line, nothing created', async (_label, slug) => {
    const r = await run(['tenant:create', slug]);
    expect(r.code).toBe(1);
    expect(expectOneErrorLine(r, 'CGK_INVALID_SLUG')).toMatch(/\(hint: /);
    expect(r.stdout).toBe('');
  });

  it('created nothing for the refused slugs', async () => {
    const r = await run(['tenant:list', '--json']);
    expect(r.code).toBe(0);
    expect(json(r).tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme', 'globex']);
    expect(await tenantSchemas()).toEqual(['tenant_acme', 'tenant_globex']);
  });

  it('tenant:repair recreates dropped roles and their grants, for one tenant or for all', async () => {
    const roles = { acme: tenantRoleName('acme', db.name), globex: tenantRoleName('globex', db.name) };
    // Privileges live per database: drop them in the scratch database, then the (cluster-wide) roles.
    const dropRoles = (...names: string[]) => sqlOnScratch(names.map((name) => `drop owned by "${name}"; drop role "${name}"`));
    /** What the role may do, read from the catalogs (null: the role does not exist). */
    const rightsOf = async (slug: 'acme' | 'globex') => {
      const role = roles[slug];
      const { rows } = await adminQuery<{ exists: boolean }>(
        'select exists (select 1 from pg_roles where rolname = $1) as exists',
        [role],
      );
      if (!rows[0]!.exists) return null;
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const schema = `tenant_${slug}`;
        const {
          rows: [r],
        } = await client.query(
          `select has_schema_privilege($1, $2, 'usage') as usage,
            has_schema_privilege($1, $2, 'create') as create,
            has_table_privilege($1, $2 || '.orders', 'select, insert, update, delete') as dml,
            has_table_privilege($1, $2 || '.schema_migrations', 'select') as history,
            has_table_privilege($1, 'public.organizations', 'select') as registry`,
          [role, schema],
        );
        return r;
      } finally {
        await client.end();
      }
    };
    const granted = { usage: true, create: false, dml: true, history: false, registry: false };
    await dropRoles(roles.acme, roles.globex);
    expect([await rightsOf('acme'), await rightsOf('globex')]).toEqual([null, null]);

    const one = await run(['tenant:repair', 'acme', '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect(json(one)).toMatchObject({ ok: true, repaired: ['acme'] });
    expect([await rightsOf('acme'), await rightsOf('globex')]).toEqual([granted, null]);

    const all = await run(['tenant:repair']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/Repaired the role and grants of 2 tenants: acme, globex/);
    expect([await rightsOf('acme'), await rightsOf('globex')]).toEqual([granted, granted]);
    // Idempotent: a second run changes nothing.
    expect((await run(['tenant:repair'])).code).toBe(0);
    expect(await rightsOf('globex')).toEqual(granted);
  });

  it('never prints the password of DATABASE_URL, in text or in JSON', async () => {
    const url = new URL(db.url);
    url.password = 's3tup-pw'; // the local server trusts loopback, so the password is carried but never checked
    for (const args of [['setup:database'], ['setup:database', '--json'], ['doctor', '--json'], ['migrate:status', '--json']]) {
      const r = await run(args, { DATABASE_URL: url.toString() });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('s3tup-pw');
      // Where the output names the server, it names it with the password masked.
      if (args[0] !== 'migrate:status') expect(r.stdout + r.stderr).toContain(':***@');
    }
  });

  it('refuses a bad slug in every command that takes one', async () => {
    for (const command of ['tenant:suspend', 'tenant:activate', 'tenant:drop']) {
      const r = await run([command, 'Bad-Slug', ...(command === 'tenant:drop' ? ['--yes'] : [])]);
      expect(r.code, command).toBe(1);
      expectOneErrorLine(r, 'CGK_INVALID_SLUG');
    }
  });

  it('prints the stack only with --verbose', async () => {
    const r = await run(['tenant:create', 'Bad', '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error CGK_INVALID_SLUG: /);
    expect(r.stderr).toMatch(/^\s+at /m);
  });

  it('reports a failure as JSON with --json', async () => {
    const r = await run(['tenant:create', 'acme', '--json']);
    expect(r.code).toBe(1);
    expect(json(r)).toEqual({
      ok: false,
      error: { code: 'CGK_TENANT_EXISTS', message: expect.stringContaining('acme'), hint: expect.any(String) },
    });
    expect(r.stderr).toMatch(/^error CGK_TENANT_EXISTS: /);
  });

  it('tenant:list prints a table, filters by status', async () => {
    const r = await run(['tenant:list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SLUG\s+STATUS\s+SCHEMA\s+CREATED\s+NAME$/);
    expect(lines[1]).toMatch(/^acme\s+\w+\s+tenant_acme\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+Acme Inc\.$/);
    expect(lines.at(-1)).toBe('2 tenants');
  });

  it('tenant:suspend and tenant:activate change the status; unknown tenants are refused', async () => {
    const suspended = await run(['tenant:suspend', 'acme', '--json']);
    expect(suspended.code, suspended.stderr).toBe(0);
    expect(json(suspended)).toMatchObject({ ok: true, tenant: { slug: 'acme', status: 'suspended' } });
    const list = json(await run(['tenant:list', '--status', 'suspended', '--json']));
    expect(list.tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme']);
    const activated = await run(['tenant:activate', 'acme']);
    expect(activated.code).toBe(0);
    expect(activated.stdout.trim()).toBe('Tenant acme is now active');
    const none = await run(['tenant:list', '--status', 'suspended']);
    expect(none.stdout.trim()).toBe('No suspended tenants.');
    const missing = await run(['tenant:suspend', 'nobody']);
    expect(missing.code).toBe(1);
    expectOneErrorLine(missing, 'CGK_TENANT_NOT_FOUND');
  });

  it('migrate and migrate:status find nothing pending on a fresh fleet', async () => {
    const status = await run(['migrate:status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const doc = json(status);
    expect(doc.ok).toBe(true);
    expect(doc.public.pending).toEqual([]);
    expect(doc.tenants).toMatchObject({ total: 2, pending: 0 });
    const migrate = await run(['migrate', '--concurrency', '4']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/2 tenants/);
    const text = await run(['migrate:status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/public/);
  });

  it('migrate --verify finds a tenant whose summary row lies, migrates it and repairs the row', async () => {
    // acme loses its last migration behind the summary's back (a restore from an old backup, say): the summary
    // still says it is up to date, so a plain migrate does nothing; --verify reads acme's own history.
    await sqlOnScratch([
      'drop table tenant_acme.blog_post_categories, tenant_acme.blog_categories',
      'delete from tenant_acme.schema_migrations where version = (select max(version) from tenant_acme.schema_migrations)',
    ]);
    const trusting = await run(['migrate', '--json']);
    expect(trusting.code, trusting.stderr).toBe(0);
    expect(json(trusting).tenants).toMatchObject({ pending: 0, migrated: [] });
    const verified = await run(['migrate', '--verify', '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    const doc = json(verified);
    expect(doc.tenants.disagreements).toEqual([expect.objectContaining({ slug: 'acme' })]);
    expect(doc.tenants.migrated).toEqual([{ slug: 'acme', applied: ['013_blog_categories.sql'] }]);
    expect(doc.tenants.failed).toEqual([]);
    const again = await run(['migrate', '--verify']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/tenants: 2 tenants, all up to date/);
    expect(again.stdout).not.toMatch(/repaired/);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query("select to_regclass('tenant_acme.blog_categories') is not null as back");
      expect(rows).toEqual([{ back: true }]);
    } finally {
      await client.end();
    }
  });

  it('migrate goes on past a failing tenant, reports it, and exits 1', async () => {
    const created = await run(['tenant:create', 'broken']);
    expect(created.code, created.stderr).toBe(0);
    // Make the tenant's last migration look unapplied: re-running it fails (its table exists).
    await sqlOnScratch([
      'delete from tenant_broken.schema_migrations where version = (select max(version) from tenant_broken.schema_migrations)',
      "delete from public.tenant_migration_state where schema_name in ('tenant_broken', 'tenant_acme')",
    ]);
    const r = await run(['migrate', '--json']);
    expect(r.code).toBe(1);
    const doc = json(r);
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatchObject({ code: 'CGK_MIGRATION' });
    expect(doc.tenants.failed).toEqual([
      expect.objectContaining({
        slug: 'broken',
        error: expect.objectContaining({ code: 'CGK_MIGRATION', message: expect.stringContaining('tenant_broken') }),
      }),
    ]);
    expect(doc.tenants.pending).toBe(2);
    expect(r.stderr).toMatch(/^cgk: migrate \[\d\/2\] acme: up to date$/m);
    expect(r.stderr).toMatch(/^cgk: migrate \[\d\/2\] broken: failed: CGK_MIGRATION: /m);
    expect(r.stderr).toMatch(/^error CGK_MIGRATION: Migrations failed for 1 tenant: broken/m);
    const text = await run(['migrate']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^tenants: 0 migrated, 0 already up to date, 1 failed, of 3 tenants/m);
    expect(text.stdout).toMatch(/^ {2}broken: FAILED: CGK_MIGRATION: /m);
    const dropped = await run(['tenant:drop', 'broken', '--yes']);
    expect(dropped.code, dropped.stderr).toBe(0);
    const clean = await run(['migrate']);
    expect(clean.code, clean.stderr).toBe(0);
  });

  it('migrate:status calls a tenant ahead of the files "ahead", not pending, and does not say "Run: migrate"', async () => {
    const created = await run(['tenant:create', 'future']);
    expect(created.code, created.stderr).toBe(0);
    // A downgrade: the tenant has a migration 014 that this release has no file for.
    await sqlOnScratch([
      "insert into tenant_future.schema_migrations (version, name, checksum) values (14, 'from_a_newer_release', 'x')",
      "update public.tenant_migration_state set version = 14, checksum_digest = 'newer' where schema_name = 'tenant_future'",
    ]);
    const doc = json(await run(['migrate:status', '--json']));
    expect(doc.tenants).toMatchObject({
      pending: 0,
      ahead: 1,
      changed: 0,
      tenants: [expect.objectContaining({ slug: 'future', reason: 'ahead', version: 14 })],
    });
    const text = await run(['migrate:status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/0 with pending migrations, 1 ahead of the files/);
    expect(text.stdout).toMatch(/^ {2}future: ahead, at version 14, newer than the files$/m);
    expect(text.stdout).toMatch(/deploy the release that has their files/);
    expect(text.stdout).not.toMatch(/Run: npx @cgk\/cli migrate/);
    const dropped = await run(['tenant:drop', 'future', '--yes']);
    expect(dropped.code, dropped.stderr).toBe(0);
  });

  it('doctor checks the setup and exits 0', async () => {
    const r = await run(['doctor', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const doc = json(r);
    const names = doc.checks.map((c: { name: string }) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'database url',
        'driver',
        'connection',
        'server',
        'pooling',
        'migrations',
        'redis',
        'encryption key',
      ]),
    );
    expect(doc.checks.find((c: { name: string }) => c.name === 'connection').status).toBe('ok');
    const text = await run(['doctor']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ok\s+connection/m);
  });

  it('tenant:drop needs --yes, then drops the tenant and its schema', async () => {
    const refused = await run(['tenant:drop', 'globex']);
    expect(refused.code).toBe(1);
    expect(expectOneErrorLine(refused, 'CGK_CONFIRMATION_REQUIRED')).toMatch(/--yes/);
    expect(await tenantSchemas()).toContain('tenant_globex');
    const dropped = await run(['tenant:drop', 'globex', '--yes']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(await tenantSchemas()).toEqual(['tenant_acme']);
    const again = await run(['tenant:drop', 'globex', '--yes']);
    expect(again.code).toBe(1);
    expectOneErrorLine(again, 'CGK_TENANT_NOT_FOUND');
  });
});

describe('configuration', () => {
  it('reads .env and .env.local; .env.local overrides .env; the real environment wins', async () => {
    const dir = tempDir();
    try {
      const port = await closedPort();
      const bad = `postgres://nobody:envfile-secret@127.0.0.1:${port}/nowhere?connect_timeout=2`;
      writeFileSync(join(dir.path, '.env'), `DATABASE_URL=${bad}\n`);
      writeFileSync(join(dir.path, '.env.local'), `DATABASE_URL=${db.url}\n`);
      const local = await cli(['tenant:list', '--json'], { cwd: dir.path });
      expect(local.code, local.stderr).toBe(0);
      expect(json(local).tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme']);
      // .env alone: the bad URL is used.
      writeFileSync(join(dir.path, '.env.local'), '# nothing\n');
      const fromEnv = await cli(['tenant:list'], { cwd: dir.path });
      expect(fromEnv.code).toBe(1);
      expectOneErrorLine(fromEnv, 'CGK_CONNECTION');
      // A real environment variable wins over both files.
      const real = await cli(['tenant:list', '--json'], { cwd: dir.path, env: { DATABASE_URL: db.url } });
      expect(real.code, real.stderr).toBe(0);
    } finally {
      dir.remove();
    }
  });

  it('refuses a malformed DATABASE_URL or driver name in one line without the password', async () => {
    const url = await run(['tenant:list'], { DATABASE_URL: 'mysql://admin:Sup3rSecret@db.example.com/shop' });
    expect(url.code).toBe(1);
    expect(expectOneErrorLine(url, 'CGK_CONFIG')).not.toContain('Sup3rSecret');
    const driver = await run(['tenant:list'], { CGK_DB_DRIVER: 'oracle' });
    expect(driver.code).toBe(1);
    expectOneErrorLine(driver, 'CGK_CONFIG');
  });
});

describe('an unreachable server', () => {
  let silent: Server;
  let silentPort: number;
  beforeAll(async () => {
    // Accepts connections and never answers: only a timeout ends the wait.
    silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(() => {
    silent?.close();
  });

  const expectRefused = (r: CliRun, password: string) => {
    expect(r.code).toBe(1);
    const line = expectOneErrorLine(r, 'CGK_CONNECTION');
    expect(line).toMatch(/\(hint: .*doctor/);
    expect(r.stderr + r.stdout).not.toContain(password);
  };

  it('exits 1 quickly for a closed port, without the password', async () => {
    const port = await closedPort();
    const r = await run(['setup:database'], { DATABASE_URL: `postgres://app:Pa55-w0rd!@127.0.0.1:${port}/shop` });
    expectRefused(r, 'Pa55-w0rd!');
    expect(r.ms).toBeLessThan(10_000);
  });

  it("gives up on a silent server after the URL's connect_timeout", async () => {
    const r = await run(['tenant:list', '--json'], {
      DATABASE_URL: `postgres://app:hunter2-pw@127.0.0.1:${silentPort}/shop?connect_timeout=1`,
    });
    expectRefused(r, 'hunter2-pw');
    expect(json(r)).toMatchObject({ ok: false, error: { code: 'CGK_CONNECTION' } });
    expect(r.ms).toBeLessThan(8_000);
  });

  it('gives up on a silent server after 5 s when the URL sets no connect_timeout', async () => {
    const r = await run(['tenant:create', 'acme'], { DATABASE_URL: `postgres://app:hunter2-pw@127.0.0.1:${silentPort}/shop` });
    expectRefused(r, 'hunter2-pw');
    expect(r.ms).toBeGreaterThanOrEqual(4_500);
    expect(r.ms).toBeLessThan(12_000);
  });

  it('doctor reports the failed connection and exits 1, without the password', async () => {
    const port = await closedPort();
    const r = await run(['doctor'], {
      DATABASE_URL: `postgres://app:d0ctor-pw@127.0.0.1:${port}/shop`,
      REDIS_URL: `redis://:redis-pw@127.0.0.1:${port}/0`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL\s+connection/m);
    expect(r.stdout).toMatch(/^FAIL\s+redis/m);
    expect(r.stdout + r.stderr).not.toContain('d0ctor-pw');
    expect(r.stdout + r.stderr).not.toContain('redis-pw');
  });
});

describe('npx @cgk/cli', () => {
  it('runs this bin: npx @cgk/cli resolves to bin/cgk.mjs', async () => {
    // The layout `npm ci` creates for a project depending on @cgk/cli (in this repository: the workspace link
    // and the links in node_modules/.bin). Both bins are the same file, so npm exec runs the first, `cgk`
    // (npm 11's getBinFromManifest: one distinct target wins before the name match on `cli`).
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'node_modules/@cgk'), { recursive: true });
      mkdirSync(join(dir.path, 'node_modules/.bin'));
      writeFileSync(
        join(dir.path, 'package.json'),
        JSON.stringify({ name: 'npx-check', private: true, dependencies: { '@cgk/cli': '*' } }),
      );
      symlinkSync(join(REPO_ROOT, 'packages/cli'), join(dir.path, 'node_modules/@cgk/cli'));
      for (const bin of ['cgk', 'cli']) symlinkSync('../@cgk/cli/bin/cgk.mjs', join(dir.path, 'node_modules/.bin', bin));
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'npx',
          ['--offline', '@cgk/cli', '--help'],
          { cwd: dir.path, env: cleanEnv(), timeout: 60_000 },
          (error, stdout, stderr) => {
            resolve({ code: error ? Number(error.code) || 1 : 0, stdout: String(stdout), stderr: String(stderr) });
          },
        );
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('Usage: cgk');
      expect(result.stdout).toContain('tenant:create');
    } finally {
      dir.remove();
    }
  });
});

describe('doctor without any configuration', () => {
  it('reports the embedded database as not created yet, and does not create it', async () => {
    const dir = tempDir();
    try {
      const r = await cli(['doctor', '--json'], { cwd: dir.path, env: {} });
      expect(r.code, r.stderr).toBe(0);
      const checks = json(r).checks as Array<{ name: string; status: string; detail: string }>;
      expect(checks.find((c) => c.name === 'connection')).toMatchObject({
        status: 'warn',
        detail: expect.stringMatching(/not been created yet/),
      });
      expect(existsSync(join(dir.path, '.cgk'))).toBe(false);
    } finally {
      dir.remove();
    }
  });
});
