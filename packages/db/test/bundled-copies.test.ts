/**
 * Two copies of @cgk/db in one process, as a bundler makes them (Next.js gives a server action's chunk and a
 * page's chunk a copy each): src/index.ts bundled twice by esbuild into two files, both imported. One default
 * Database, one scope context, one set of validated identifiers, one embedded database per directory, errors
 * recognised across copies; a copy of another version keeps its own state and is refused the embedded
 * database by name. See process/shared.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Database, createTenant, setupDatabase } from '../src/index.js';
import { DROP_TIMEOUT_MS, createTestDatabase, adminQuery, type TestDatabase } from './helpers/database.js';

type Library = typeof import('../src/index.js');

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
// Inside the package, so that the bundles' imports of pg and PGlite resolve to its node_modules.
const outRoot = mkdtempSync(join(PACKAGE, '.bundled-copies-'));
const embeddedDirs: string[] = [];

async function bundledCopy(name: string, version: string, minify = false): Promise<Library> {
  const outfile = join(outRoot, name, 'index.mjs');
  await build({
    entryPoints: [join(PACKAGE, 'src/index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    minify,
    define: { __CGK_DB_VERSION__: JSON.stringify(version) },
  });
  return (await import(pathToFileURL(outfile).href)) as Library;
}

function embeddedDir(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'cgk-copies-')), 'pglite');
  embeddedDirs.push(dir);
  return dir;
}

let database: TestDatabase;
let a: Library;
let b: Library;
let other: Library;
const SLUG = 'copies';

beforeAll(async () => {
  [a, b, other] = await Promise.all([bundledCopy('a', '9.9.9'), bundledCopy('b', '9.9.9'), bundledCopy('c', '9.9.8')]);
  database = await createTestDatabase('cgk_copies');
  // Set up by the sources: a bundle without the build's embedded migrations finds no SQL files beside it.
  const db = new Database({ url: database.url, tenantRoles: 'off' });
  try {
    await setupDatabase({ db });
    await createTenant({ slug: SLUG, name: 'Copies' }, { db });
  } finally {
    await db.end();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.closeDatabase(), other?.closeDatabase()]);
  await database?.drop();
  rmSync(outRoot, { recursive: true, force: true });
  for (const dir of embeddedDirs) rmSync(join(dir, '..'), { recursive: true, force: true });
}, DROP_TIMEOUT_MS);

describe('two bundled copies of one version in one process', () => {
  it('are two modules, with one default Database between them', () => {
    expect(a.Database).not.toBe(b.Database);
    const configured = a.configureDatabase({ url: database.url, tenantRoles: 'off' });
    expect(b.getDatabase()).toBe(configured);
    expect(a.getDatabase()).toBe(configured);
  });

  it('keep one pool: the queries of both copies use one server connection', async () => {
    // Each copy's default from the environment, as an application has it.
    await a.closeDatabase();
    vi.stubEnv('DATABASE_URL', database.url);
    for (let i = 0; i < 3; i++) {
      await a.sql`select 1`;
      await b.sql`select 1`;
    }
    const { rows } = await adminQuery<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
      [database.name],
    );
    vi.unstubAllEnvs();
    expect(rows[0]!.n).toBe(1);
  });

  it("share the scope: a scope opened by one copy is the scope of the other's sql", async () => {
    a.configureDatabase({ url: database.url, tenantRoles: 'off' });
    const seen = await a.withTenant(SLUG, async () => {
      const { rows } = await b.sql<{ schema: string }>`select current_schema() as schema`;
      return { schema: rows[0]!.schema, tenant: b.currentTenant() };
    });
    expect(seen).toEqual({ schema: `tenant_${SLUG}`, tenant: SLUG });
  });

  it("splice each other's identifiers", async () => {
    const { rows } = await b.sql<{ n: number }>`select count(*)::int as n from ${a.identifier('public', 'organizations')}`;
    expect(rows[0]!.n).toBe(1);
  });

  it("recognise each other's errors with instanceof, by their written-out names", async () => {
    const thrown = await b.withTenant('Not A Slug', async () => 1).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(a.InvalidSlugError);
    expect(thrown).toBeInstanceOf(a.CgkError);
    expect(thrown).not.toBeInstanceOf(a.TenantNotFoundError);
    expect((thrown as Error).name).toBe('InvalidSlugError');
    const failed = await b.sql`select * from no_such_table`.catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(a.QueryError);
    expect(failed).not.toBeInstanceOf(a.ConnectionError);
  });

  it('open one embedded database per directory: a Database of each copy, neither "another process"', async () => {
    const dir = embeddedDir();
    const first = new a.Database({ dataDir: dir, tenantRoles: 'off' });
    const second = new b.Database({ dataDir: dir, tenantRoles: 'off' });
    try {
      await first.sql`create table t (n int)`;
      await second.sql`insert into t values (1)`;
      expect((await first.sql<{ n: number }>`select n from t`).rows).toEqual([{ n: 1 }]);
      // Ending one leaves the other's handle working.
      await first.end();
      expect((await second.sql<{ n: number }>`select count(*)::int as n from t`).rows).toEqual([{ n: 1 }]);
    } finally {
      await first.end();
      await second.end();
    }
  }, 60_000);
});

describe('the embedded data directory lock', () => {
  it("takes over a lock naming this process's pid that this process does not hold (left by an earlier process)", async () => {
    const dir = embeddedDir();
    mkdirSync(dir, { recursive: true });
    // A container restarted as pid 1 finds the lock file its previous life (also pid 1) left.
    writeFileSync(`${dir}.lock`, String(process.pid));
    const db = new Database({ dataDir: dir, tenantRoles: 'off' });
    const started = Date.now();
    try {
      expect((await db.sql<{ n: number }>`select 1 as n`).rows).toEqual([{ n: 1 }]);
      // Not the 30 s wait for "another process".
      expect(Date.now() - started).toBeLessThan(25_000);
    } finally {
      await db.end();
    }
  }, 60_000);
});

describe('error names', () => {
  it('survive minification: each class writes its name out, as Next.js logs it', async () => {
    const min = await bundledCopy('min', '9.9.9', true);
    const thrown = await min.withTenant('Not A Slug', async () => 1).catch((error: unknown) => error);
    expect((thrown as Error).name).toBe('InvalidSlugError');
    expect(String(thrown)).toMatch(/^InvalidSlugError: Invalid tenant slug/);
    for (const [exported, value] of Object.entries(min)) {
      if (typeof value === 'function' && value.prototype instanceof Error) expect(value.prototype.constructor).toBe(value);
      if (typeof value === 'function' && (value === min.CgkError || value.prototype instanceof min.CgkError)) {
        expect(Object.hasOwn(value, Symbol.for('@cgk/db/error-class')), exported).toBe(true);
        expect((value as unknown as Record<symbol, string>)[Symbol.for('@cgk/db/error-class')]).toBe(exported);
      }
    }
  });
});

describe('a bundled copy of another version', () => {
  it('keeps its own default Database and scope context', async () => {
    a.configureDatabase({ url: database.url, tenantRoles: 'off' });
    other.configureDatabase({ url: database.url, tenantRoles: 'off' });
    expect(other.getDatabase()).not.toBe(a.getDatabase());
    const schema = await a.withTenant(
      SLUG,
      async () => (await other.sql<{ s: string }>`select current_schema() as s`).rows[0]!.s,
    );
    expect(schema).toBe('public');
  });

  it('is refused an embedded directory another version holds, by name, not as "another process"', async () => {
    const dir = embeddedDir();
    const mine = new a.Database({ dataDir: dir, tenantRoles: 'off' });
    const theirs = new other.Database({ dataDir: dir, tenantRoles: 'off' });
    try {
      await mine.sql`select 1`;
      const refused = await theirs.sql`select 1`.catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(other.ConnectionError);
      expect((refused as Error).message).toMatch(/already open in this process, by @cgk\/db 9\.9\.9 \(this copy is 9\.9\.8\)/);
      expect((refused as Error).message).not.toMatch(/another process/);
    } finally {
      await theirs.end();
      await mine.end();
    }
  }, 60_000);
});
