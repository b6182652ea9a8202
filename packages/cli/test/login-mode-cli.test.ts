import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppDatabase, type AppDatabase, DROP_TIMEOUT_MS, adminQuery } from '../../db/test/helpers/database.js';
import { tenantRoleName } from '../../db/src/roles/tenant-role.js';
import { tenantRoleVerifier } from '../../db/src/roles/credentials.js';
import { cli, expectOneErrorLine, json, tempDir } from './helpers/cli.js';

/**
 * The login isolation mode configured as an operator does, from the environment only: CGK_TENANT_ROLES=login
 * and CGK_TENANT_ROLE_SECRET for setup:database, tenant:create, tenant:repair and doctor, as a non-superuser
 * application role.
 */

const SECRET = randomBytes(32).toString('base64');
let app: AppDatabase;
let work: ReturnType<typeof tempDir>;

beforeAll(async () => {
  app = await createAppDatabase('cgk_cli_login');
  work = tempDir();
}, 120_000);

afterAll(async () => {
  work?.remove();
  await app?.drop();
}, DROP_TIMEOUT_MS);

const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  cli(args, {
    cwd: work.path,
    env: { DATABASE_URL: app.url, CGK_TENANT_ROLES: 'login', CGK_TENANT_ROLE_SECRET: SECRET, ...env },
    timeoutMs: 60_000,
  });

describe('login mode from the environment (CLI)', () => {
  it('tenant:create gives the role LOGIN and its verifier; without the secret it is refused with CGK_CONFIG', async () => {
    const setup = await run(['setup:database']);
    expect(setup.code, setup.stderr).toBe(0);
    const created = await run(['tenant:create', 'acme']);
    expect(created.code, created.stderr).toBe(0);
    const role = tenantRoleName('acme', app.name);
    const { rows } = await adminQuery('select rolcanlogin as login, rolpassword as password from pg_authid where rolname = $1', [
      role,
    ]);
    expect(rows).toEqual([{ login: true, password: await tenantRoleVerifier(SECRET, role) }]);
    const refused = await run(['tenant:create', 'beta'], { CGK_TENANT_ROLE_SECRET: undefined });
    expect(refused.code).not.toBe(0);
    expect(expectOneErrorLine(refused, 'CGK_CONFIG')).toMatch(/CGK_TENANT_ROLE_SECRET/);
    const bad = await run(['tenant:list'], { CGK_TENANT_ROLES: 'strict' });
    expect(expectOneErrorLine(bad, 'CGK_CONFIG')).toMatch(/CGK_TENANT_ROLES=strict is not an isolation mode/);
  });

  it('doctor reports the login checks, and fails the secret when it is missing', async () => {
    const r = await run(['doctor', '--json']);
    const checks = Object.fromEntries(json(r).checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    expect(checks).toMatchObject({
      'tenant roles': 'ok',
      'login secret': 'ok',
      'tenant pools': 'ok',
      'tenant role attributes': 'ok',
      'tenant login': 'ok',
    });
    const missing = await run(['doctor', '--json'], { CGK_TENANT_ROLE_SECRET: undefined });
    expect(missing.code).toBe(1);
    const found = json(missing).checks.find((c: { name: string }) => c.name === 'login secret');
    expect(found).toMatchObject({ status: 'fail' });
  });
});
