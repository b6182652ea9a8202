import { execFile } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantRoleName } from '../../db/src/roles/tenant-role.js';
import { DROP_TIMEOUT_MS, createAppDatabase, type AppDatabase } from '../../db/test/helpers/database.js';
import { startPgBouncer, type PgBouncerInstance } from '../../db/test/helpers/pgbouncer.js';
import { CLI_BIN, cleanEnv, cli, json, tempDir } from './helpers/cli.js';

/**
 * The CLI on a pooled connection string (PgBouncer in transaction mode, as Neon's `-pooler` host is), as a
 * non-superuser application role; and `migrate`'s progress bar on a real pseudo-terminal (util-linux `script`).
 */

let app: AppDatabase;
let bouncer: PgBouncerInstance;
let work: ReturnType<typeof tempDir>;
const run = (args: string[]) => cli(args, { cwd: work.path, env: { DATABASE_URL: bouncer.url }, timeoutMs: 120_000 });

beforeAll(async () => {
  app = await createAppDatabase('cgk_cli_pool');
  bouncer = await startPgBouncer({ targetUrl: app.url, poolMode: 'transaction', defaultPoolSize: 2 });
  work = tempDir();
}, 120_000);
afterAll(async () => {
  work?.remove();
  await bouncer?.stop();
  await app?.drop();
}, DROP_TIMEOUT_MS);

/** Runs statements on the database directly, as the application role (not through the CLI or PgBouncer). */
async function direct<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: app.url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('the CLI through PgBouncer in transaction pooling mode', () => {
  it('setup:database, tenant:create, migrate and migrate --verify work on the pooled URL', { timeout: 240_000 }, async () => {
    const setup = await run(['setup:database', '--json']);
    expect(setup.code, setup.stderr).toBe(0);
    expect(json(setup)).toMatchObject({ ok: true, driver: 'pg', alreadyApplied: 0 });
    expect(json(setup).applied.length).toBeGreaterThanOrEqual(6);

    for (const slug of ['pool_a', 'pool_b']) {
      const created = await run(['tenant:create', slug, '--json']);
      expect(created.code, created.stderr).toBe(0);
      expect(json(created)).toMatchObject({ ok: true, tenant: { slug, schema: `tenant_${slug}` } });
    }
    const schemas = await direct<{ nspname: string }>(
      "select nspname from pg_namespace where nspname like 'tenant\\_%' order by 1",
    );
    expect(schemas.map((r) => r.nspname)).toEqual(['tenant_pool_a', 'tenant_pool_b']);
    const roles = await direct<{ rolname: string }>(
      `select rolname from pg_roles where rolname in ('${tenantRoleName('pool_a', app.name)}', '${tenantRoleName('pool_b', app.name)}') order by 1`,
    );
    expect(roles).toHaveLength(2);

    const migrate = await run(['migrate', '--json']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(json(migrate)).toMatchObject({ ok: true, tenants: { total: 2, pending: 0, failed: [] } });
    const verify = await run(['migrate', '--verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(json(verify)).toMatchObject({ ok: true, tenants: { total: 2, failed: [], disagreements: [] } });
    const status = await run(['migrate:status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({ ok: true, public: { pending: [] }, tenants: { total: 2, pending: 0 } });
  });
});

// Uses the two tenants the test above created (the file's tests run in order).
describe('migrate on a terminal', () => {
  /** Runs the CLI with stdout and stderr on a pseudo-terminal; resolves to what the terminal received. */
  function onTerminal(args: string[]): Promise<{ code: number; screen: string }> {
    const command = [process.execPath, CLI_BIN, ...args].map((part) => `'${part.replace(/'/g, "'\\''")}'`).join(' ');
    return new Promise((resolve) => {
      execFile(
        'script',
        ['-q', '-e', '-c', command, '/dev/null'],
        {
          cwd: work.path,
          env: cleanEnv({ DATABASE_URL: app.url, TERM: 'xterm' }),
          timeout: 120_000,
        },
        (error, stdout) => {
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, screen: String(stdout) });
        },
      );
    });
  }

  it('draws one progress bar, redrawn in place, and clears it before the summary', { timeout: 240_000 }, async () => {
    // Tenants to migrate: --verify works on every tenant, so both report progress.
    const { code, screen } = await onTerminal(['migrate', '--verify']);
    expect(code, screen).toBe(0);
    // No line-per-tenant log on a terminal: that is for pipes and CI.
    expect(screen).not.toMatch(/cgk: migrate \[/);
    const draws = screen.split('\r\u001b[2K').slice(1);
    // At least the first and the last tenant are drawn, then the bar is cleared (an empty redraw).
    expect(draws.length).toBeGreaterThanOrEqual(2);
    const bars = draws.filter((d) => d.startsWith('migrating tenants ['));
    expect(bars.at(-1)).toMatch(/^migrating tenants \[#+\] 2\/2 pool_[ab]$/);
    expect(bars[0]).toMatch(/^migrating tenants \[[#-]+\] [12]\/2 pool_[ab]$/);
    // The bar is cleared, then the summary is printed on a line of its own.
    const last = draws.at(-1)!;
    expect(last).not.toMatch(/^migrating/);
    expect(last).toMatch(/tenants: 2 tenants, all up to date/);
  });
});
