/**
 * The packages as a user gets them: `npm pack` of both workspaces, installed into apps outside the
 * repository. Plain Node (import and require), TypeScript 5.9 without skipLibCheck, the CLI's bin.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../packages/db/test/helpers/database.js';
import { REPO_ROOT, npmInstall, packWorkspaces, scratchApp, type Packed } from './helpers/pack.js';
import { run, runOk } from './helpers/run.js';

const HOOKS = new URL('./helpers/register-hooks.mjs', import.meta.url).pathname;
const OPTIONAL = ['@electric-sql/pglite', 'ioredis', '@neondatabase/serverless', '@vercel/postgres', 'ws', '@opentelemetry/api'];

let packed: Packed;
/** @cgk/db alone: what a service on plain PostgreSQL installs. */
let plain: ReturnType<typeof scratchApp>;
/** @cgk/db and @cgk/cli, with TypeScript 5.9 for the consumer check. */
let full: ReturnType<typeof scratchApp>;
let database: TestDatabase;

beforeAll(async () => {
  packed = await packWorkspaces();
  plain = scratchApp('plain');
  full = scratchApp('full');
  database = await createTestDatabase('cgk_pack');
  await npmInstall(plain.dir, [packed.db]);
  await npmInstall(full.dir, [packed.db, packed.cli, 'typescript@5.9.3', '@types/node@20.19.43']);
});

afterAll(async () => {
  await database?.drop();
  packed?.remove();
  plain?.remove();
  full?.remove();
});

function write(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('the tarballs', () => {
  it('hold dist/ (JavaScript, .d.ts, source maps), a README and the migration SQL; no tests, no TypeScript sources', async () => {
    for (const tarball of [packed.db, packed.cli]) {
      const { stdout } = await runOk('tar', ['tzf', tarball], { cwd: packed.dir });
      const files = stdout.trim().split('\n');
      expect(files).toContain('package/README.md');
      expect(files).toContain('package/package.json');
      expect(files.some((f) => f.endsWith('.js.map'))).toBe(true);
      expect(files.filter((f) => /(^|\/)(test|tests)\/|\.test\.|tsconfig/.test(f))).toEqual([]);
      expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    }
    const { stdout } = await runOk('tar', ['tzf', packed.db], { cwd: packed.dir });
    expect(stdout).toContain('package/dist/index.js');
    expect(stdout).toContain('package/dist/index.d.ts');
    expect(stdout).toContain('package/dist/migrations/tenant/001_orders.sql');
    for (const entry of ['orm/drizzle', 'orm/kysely', 'compat/vercel-postgres']) {
      expect(stdout).toContain(`package/dist/${entry}.js`);
      expect(stdout).toContain(`package/dist/${entry}.d.ts`);
    }
    // The embedded PostgreSQL's prepared data directory (4 MB) ships with the CLI, not with the library.
    expect(stdout).not.toContain('pglite-seed-');
    expect((await runOk('tar', ['tzf', packed.cli], { cwd: packed.dir })).stdout).toMatch(
      /package\/dist\/pglite-seed-[\d.]+\.tgz/,
    );
  });

  it('install only pg for a plain-PostgreSQL user: no PGlite, Neon, ws, ioredis, tsx or esbuild', () => {
    for (const name of [...OPTIONAL, 'tsx', 'esbuild', '@types/pg']) {
      expect(existsSync(join(plain.dir, 'node_modules', name)), name).toBe(false);
    }
    expect(existsSync(join(plain.dir, 'node_modules/pg/package.json'))).toBe(true);
  });
});

describe('@cgk/db in plain Node', () => {
  it('sets up the database, creates a tenant, runs withTenant, and exits by itself after the last query', async () => {
    write(
      plain.dir,
      'app.mjs',
      `
      import { setupDatabase, createTenant, withTenant, sql } from '@cgk/db';
      const setup = await setupDatabase();
      const { migrationsApplied } = await createTenant({ slug: 'acme', name: 'Acme' });
      await withTenant('acme', () => sql\`insert into orders (order_number, currency) values ('A-1', 'EUR')\`);
      const rows = await withTenant('acme', async () =>
        (await sql\`select current_schema() as schema, order_number from orders\`).rows);
      console.log(JSON.stringify({ tables: setup.tables, migrationsApplied, rows }));
      // No closeDatabase(): the idle pool must not keep the process alive.
    `,
    );
    const result = await run(process.execPath, ['app.mjs'], {
      cwd: plain.dir,
      env: { DATABASE_URL: database.url },
      timeoutMs: 60_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.trim().split('\n').pop()!);
    expect(out.migrationsApplied).toBeGreaterThan(0);
    expect(out.rows).toEqual([{ schema: 'tenant_acme', order_number: 'A-1' }]);
    // pg's idle timeout is 30 s: a process held by its pool would take that long.
    expect(result.ms).toBeLessThan(15_000);
    expect(result.stderr).toBe('');
  });

  it('works through require() as well', async () => {
    write(
      plain.dir,
      'app.cjs',
      `
      const { withTenant, sql, CgkError, closeDatabase } = require('@cgk/db');
      withTenant('acme', async () => (await sql\`select count(*)::int as n from orders\`).rows[0].n)
        .then(async (n) => { console.log('orders', n, typeof CgkError); await closeDatabase(); });
    `,
    );
    const result = await run(process.execPath, ['app.cjs'], {
      cwd: plain.dir,
      env: { DATABASE_URL: database.url },
      timeoutMs: 60_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('orders 1 function');
  });

  it('loads none of the optional packages (nor pg) on import; pg once a query runs', async () => {
    const log = join(plain.dir, 'imports.log');
    write(
      plain.dir,
      'imports.mjs',
      `
      const db = await import('@cgk/db');
      const { appendFileSync } = await import('node:fs');
      appendFileSync(process.env.CGK_IMPORT_LOG, '--- imported\\n');
      await db.sql\`select 1\`;
      await db.closeDatabase();
    `,
    );
    const result = await run(process.execPath, ['--import', HOOKS, 'imports.mjs'], {
      cwd: plain.dir,
      env: { DATABASE_URL: database.url, CGK_IMPORT_LOG: log },
    });
    expect(result.code, result.stderr).toBe(0);
    const [onImport, afterQuery] = readFileSync(log, 'utf8').split('--- imported');
    const packages = (text: string) =>
      [...new Set([...text.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]))].sort();
    expect(packages(onImport!)).toEqual(['@cgk/db']);
    expect(packages(afterQuery!)).toContain('pg');
    for (const name of OPTIONAL) expect(packages(afterQuery!)).not.toContain(name);
  });

  it('names the package to install when an optional one is missing (typed CGK_CONFIG)', async () => {
    write(
      plain.dir,
      'missing.mjs',
      `
      import { CgkError, createTenantCache, Database } from '@cgk/db';
      const report = (error) => ({ cgk: error instanceof CgkError, code: error.code, message: error.message, hint: error.hint });
      const out = {};
      out.redis = await createTenantCache('acme', { url: 'redis://127.0.0.1:6379/0' }).get('k').then(() => null, report);
      out.pglite = await new Database({ driver: 'pglite', dataDir: ':memory:' }).sql\`select 1\`.then(() => null, report);
      out.neon = await new Database({ driver: 'neon', url: process.env.DATABASE_URL }).sql\`select 1\`.then(() => null, report);
      console.log(JSON.stringify(out));
    `,
    );
    const result = await run(process.execPath, ['missing.mjs'], { cwd: plain.dir, env: { DATABASE_URL: database.url } });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    for (const [key, name] of [
      ['redis', 'ioredis'],
      ['pglite', '@electric-sql/pglite'],
      ['neon', 'ws'],
    ] as const) {
      expect(out[key], key).toMatchObject({
        cgk: true,
        code: 'CGK_CONFIG',
        hint: `Install it next to @cgk/db: npm install ${name}`,
      });
      expect(out[key].message).toContain(`${name} is not installed`);
    }
  });

  it("connects with a Neon-style URL without printing node-postgres' SSL warning; no SSL on the server is CGK_CONNECTION", async () => {
    write(
      plain.dir,
      'ssl.mjs',
      `
      import { Database } from '@cgk/db';
      const db = new Database({ url: process.env.DATABASE_URL + '?sslmode=require&channel_binding=require' });
      const error = await db.sql\`select 1\`.then(() => null, (e) => e);
      console.log(JSON.stringify({ code: error?.code, message: error?.message, hint: error?.hint }));
      await db.end();
    `,
    );
    const result = await run(process.execPath, ['ssl.mjs'], { cwd: plain.dir, env: { DATABASE_URL: database.url } });
    expect(result.code, result.stderr).toBe(0);
    // The test server has no TLS: the connection is refused, with a code and a hint, and nothing on stderr.
    const out = JSON.parse(result.stdout);
    expect(out.code).toBe('CGK_CONNECTION');
    expect(out.message).toContain('does not support SSL');
    expect(out.hint).toContain('sslmode');
    expect(result.stderr).toBe('');
  });
});

describe('TypeScript 5.9 consumers (strict, no skipLibCheck)', () => {
  const consumer = `
    import { CgkError, Database, createTenantCache, getTenantFromRequest, sql, withTenant, closeDatabase,
      type QueryResult, type Row, type TenantCache } from '@cgk/db';

    export async function GET(request: Request): Promise<Response> {
      try {
        const slug = getTenantFromRequest(request);
        if (!slug) return new Response('tenant required', { status: 400 });
        const orders = await withTenant(slug, async () => {
          const result: QueryResult<{ id: string }> = await sql<{ id: string }>\`select id from orders where status = \${'pending'}\`;
          return result.rows;
        });
        const cache: TenantCache = createTenantCache(slug);
        await cache.set('pending', orders.length, 60);
        const n: number | undefined = await cache.get<number>('pending');
        return Response.json({ orders, n });
      } catch (error) {
        if (error instanceof CgkError && error.code === 'CGK_INVALID_SLUG') return new Response('bad slug', { status: 400 });
        if (error instanceof CgkError && error.code === 'CGK_TENANT_NOT_FOUND') return new Response('no tenant', { status: 404 });
        throw error;
      }
    }

    export async function script(): Promise<Row[]> {
      const db = new Database({ url: 'postgres://localhost/x' });
      const rows = (await db.sql\`select 1 as one\`).rows;
      await db.end();
      await closeDatabase();
      return rows;
    }
  `;
  for (const [mode, options] of [
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ] as const) {
    it(`type-checks a route handler and a script under moduleResolution ${mode}`, async () => {
      const dir = join(full.dir, `ts-${mode}`);
      mkdirSync(dir, { recursive: true });
      write(dir, 'consumer.ts', consumer);
      write(
        dir,
        'tsconfig.json',
        JSON.stringify({
          compilerOptions: {
            ...options,
            target: 'es2022',
            lib: ['es2022', 'dom'],
            strict: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
          },
          files: ['consumer.ts'],
        }),
      );
      const tsc = join(full.dir, 'node_modules/typescript/bin/tsc');
      const version = await runOk(process.execPath, [tsc, '--version'], { cwd: dir });
      expect(version.stdout).toContain('Version 5.9');
      const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  }
});

describe('npx cgk from the installed tarballs', () => {
  it('runs compiled JavaScript: no tsx or esbuild installed, --help answers', async () => {
    for (const name of ['tsx', 'esbuild']) expect(existsSync(join(full.dir, 'node_modules', name)), name).toBe(false);
    const result = await runOk('npx', ['--offline', 'cgk', '--help'], { cwd: full.dir });
    expect(result.stdout).toContain('Usage: cgk');
    expect(result.stdout).toContain('tenant:create');
  });

  it('cgk --help and --version load neither @cgk/db nor node:crypto (the library is loaded when a command runs)', async () => {
    for (const flag of ['--help', '--version']) {
      const log = join(full.dir, `imports${flag}.log`);
      const result = await run(process.execPath, ['--import', HOOKS, 'node_modules/@cgk/cli/bin/cgk.mjs', flag], {
        cwd: full.dir,
        env: { CGK_IMPORT_LOG: log },
      });
      expect(result.code, result.stderr).toBe(0);
      const imports = readFileSync(log, 'utf8');
      expect(imports).toContain('/@cgk/cli/dist/main.js');
      expect(imports).not.toContain('/@cgk/db/');
      expect(imports).not.toContain('node:crypto');
    }
  });

  it('setup:database and tenant:create against DATABASE_URL', async () => {
    const env = { DATABASE_URL: database.url };
    const setup = await runOk('npx', ['--offline', 'cgk', 'setup:database'], { cwd: full.dir, env });
    expect(setup.stdout).toContain('Database ready: pg');
    const created = await runOk('npx', ['--offline', 'cgk', 'tenant:create', 'globex', '--json'], { cwd: full.dir, env });
    expect(created.stdout).toContain('"globex"');
    const list = await runOk('npx', ['--offline', 'cgk', 'tenant:list', '--json'], { cwd: full.dir, env });
    expect(list.stdout).toContain('globex');
    expect(list.stdout).toContain('acme');
  });

  it('setup:database and tenant:create on the embedded PostgreSQL (no DATABASE_URL)', async () => {
    const dir = join(full.dir, 'embedded');
    mkdirSync(dir);
    const setup = await runOk('npx', ['--offline', 'cgk', 'setup:database'], { cwd: dir, timeoutMs: 180_000 });
    expect(setup.stdout).toContain('Database ready: pglite');
    const created = await runOk('npx', ['--offline', 'cgk', 'tenant:create', 'acme'], { cwd: dir, timeoutMs: 180_000 });
    expect(created.stdout).toContain('Created tenant acme');
    expect(existsSync(join(dir, '.cgk/pglite'))).toBe(true);
  });
});

describe('releasing (npm run release)', () => {
  it('checks the versions and the changelog, and with --dry-run publishes nothing', async () => {
    const result = await run(process.execPath, ['scripts/publish.mjs', '--dry-run'], { cwd: REPO_ROOT, timeoutMs: 600_000 });
    const output = result.stdout + result.stderr;
    expect(result.code, output).toBe(0);
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/db/package.json'), 'utf8')) as { version: string };
    expect(output).toContain(`+ @cgk/db@${version}`);
    expect(output).toContain(`+ @cgk/cli@${version}`);
    expect(output).toContain('(dry-run)');
    expect(output).toContain('checked (dry run, nothing published)');
  });

  it('@cgk/db/vercel-postgres imports from the installed package', async () => {
    write(
      plain.dir,
      'compat.mjs',
      "const m = await import('@cgk/db/vercel-postgres'); console.log(typeof m.sql, m.PostgresError.name);",
    );
    const result = await run(process.execPath, ['compat.mjs'], { cwd: plain.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('function PostgresError');
  });
});

describe("an application's own migration sets, from the installed tarballs (issue #25)", () => {
  const EXTENSIONS = `-- the extensions tenant tables use
create schema if not exists extensions;
grant usage on schema extensions to public;
create extension if not exists "uuid-ossp" with schema extensions;
`;
  const USERS =
    '-- the app users, per tenant\ncreate table users (id uuid primary key default gen_random_uuid(), email text not null);\n';
  const NOTES =
    '-- notes with uuid-ossp keys\ncreate table notes (id uuid primary key default uuid_generate_v4(), title text);\n';
  const SCOPE = `
    import { withTenant, sql, closeDatabase } from '@cgk/db';
    await withTenant('a', () => sql\`insert into users (email, name) values ('ann@a.test', 'Ann')\`);
    await withTenant('a', () => sql\`insert into notes (title) values ('hello')\`);
    const users = await withTenant('a', async () => (await sql\`select email, name from users\`).rows);
    const others = await withTenant('b', async () => (await sql\`select count(*)::int as n from users\`).rows);
    const tracked = (await sql\`
      select 'tenant_a' as schema, migration_set, count(*)::int as n from tenant_a.schema_migrations group by 2
      union all
      select 'tenant_b', migration_set, count(*)::int from tenant_b.schema_migrations group by 2
      order by 1, 2\`).rows;
    await closeDatabase();
    console.log(JSON.stringify({ users, others, tracked }));
  `;

  /** The acceptance of #25 in an app of its own: configure, set up, two tenants, a third file, migrate, check. */
  async function scenario(name: string, env: Record<string, string | undefined>) {
    const dir = join(full.dir, `app-sets-${name}`);
    mkdirSync(join(dir, 'db/public'), { recursive: true });
    mkdirSync(join(dir, 'db/tenant'), { recursive: true });
    write(dir, 'cgk.config.json', JSON.stringify({ migrations: { public: ['db/public'], tenant: ['db/tenant'] } }));
    write(join(dir, 'db/public'), '001_extensions.sql', EXTENSIONS);
    write(join(dir, 'db/tenant'), '001_users.sql', USERS);
    write(join(dir, 'db/tenant'), '002_notes.sql', NOTES);
    const cgk = (args: string[]) => runOk('npx', ['--offline', 'cgk', ...args], { cwd: dir, env, timeoutMs: 180_000 });
    expect((await cgk(['setup:database'])).stdout).toContain('public/001_extensions.sql');
    for (const slug of ['a', 'b']) expect((await cgk(['tenant:create', slug])).stdout).toContain('with 15 migrations');
    const made = JSON.parse((await cgk(['migration:new', 'user_names', '--json'])).stdout);
    expect(made.file.filename).toBe('003_user_names.sql');
    writeFileSync(made.file.path, '-- a name for users\nalter table users add column name text;\n');
    const migrated = JSON.parse((await cgk(['migrate', '--json'])).stdout);
    expect(migrated.tenants.migrated).toEqual([
      { slug: 'a', applied: ['tenant/003_user_names.sql'] },
      { slug: 'b', applied: ['tenant/003_user_names.sql'] },
    ]);
    expect((await cgk(['migrate:status'])).stdout).toContain('Everything is up to date.');
    const doctor = JSON.parse((await run('npx', ['--offline', 'cgk', 'doctor', '--json'], { cwd: dir, env })).stdout);
    expect(doctor.checks.filter((c: { status: string }) => c.status === 'fail')).toEqual([]);
    expect(doctor.checks.find((c: { name: string }) => c.name === 'migrations').status).toBe('ok');
    write(dir, 'scope.mjs', SCOPE);
    const scope = await runOk(process.execPath, ['scope.mjs'], { cwd: dir, env, timeoutMs: 180_000 });
    expect(JSON.parse(scope.stdout.trim().split('\n').pop()!)).toEqual({
      users: [{ email: 'ann@a.test', name: 'Ann' }],
      others: [{ n: 0 }],
      tracked: [
        { schema: 'tenant_a', migration_set: 'platform', n: 13 },
        { schema: 'tenant_a', migration_set: 'tenant', n: 3 },
        { schema: 'tenant_b', migration_set: 'platform', n: 13 },
        { schema: 'tenant_b', migration_set: 'tenant', n: 3 },
      ],
    });
  }

  it('on PostgreSQL: every tenant has every file once, status up to date, doctor clean, a scope reads its own users', async () => {
    const own = await createTestDatabase('cgk_pack_sets');
    try {
      await scenario('pg', { DATABASE_URL: own.url });
    } finally {
      await own.drop();
    }
  });

  it('the same on the embedded PostgreSQL', async () => {
    await scenario('embedded', {});
  });
});
