import type { Database } from '../database/database.js';
import type { DoctorCheck } from './types.js';
import { failure } from './config.js';
import { parsePoolSettings } from '../drivers/pool-settings.js';
import { pgSslSettings } from '../drivers/ssl.js';
import type { DriverConfig } from '../drivers/driver-config.js';
import { normalizeDriverError } from '../drivers/errors.js';
import { DATABASE_TAG_EXPRESSION, tenantRoleNameForTag } from '../roles/tenant-role.js';
import { formerTenantRoleSecrets, requireTenantRoleSecret, tenantRolePassword } from '../roles/credentials.js';
import { assertLoginModeSupported } from '../roles/mode.js';

/**
 * The doctor's checks of the login isolation mode (docs/ISOLATION.md): the secret, the driver, the tenant
 * roles' attributes (LOGIN; nothing that would let a scope out: superuser, BYPASSRLS, CREATEROLE, CREATEDB,
 * membership of another role) and one real login as a tenant with its derived password.
 */

interface RoleCensus {
  tag: string;
  app: string;
  app_super: boolean;
  app_bypassrls: boolean;
  tenants: number;
  roles: number;
  nologin: number;
  powerful: number;
  members: number;
  first_slug: string | null;
}

const CENSUS = `select ${DATABASE_TAG_EXPRESSION} as tag, current_user::text as app,
  (select rolsuper from pg_roles where rolname = current_user) as app_super,
  (select rolbypassrls from pg_roles where rolname = current_user) as app_bypassrls,
  (select count(*)::int from public.organizations) as tenants,
  count(r.oid)::int as roles,
  count(r.oid) filter (where not r.rolcanlogin)::int as nologin,
  count(r.oid) filter (where r.rolsuper or r.rolbypassrls or r.rolcreaterole or r.rolcreatedb)::int as powerful,
  count(r.oid) filter (where exists (select 1 from pg_auth_members m where m.member = r.oid))::int as members,
  (select slug from public.organizations order by created_at limit 1) as first_slug
from pg_roles r where r.rolname like 'ct\\_' || ${DATABASE_TAG_EXPRESSION} || '\\_%'`;

const REPAIR = 'Run: npx @cgk/cli tenant:repair (with the CGK_TENANT_ROLE_SECRET the application uses)';

/** Every login-mode check, in order: secret, then (database reached) roles and a real tenant login. */
export async function checkLoginMode(
  env: NodeJS.ProcessEnv,
  config: DriverConfig | undefined,
  db: Database | undefined,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let secret: string | undefined;
  try {
    if (config) assertLoginModeSupported(config.driver);
    secret = db && db.tenantRoleMode === 'login' ? db.tenantRoleSecret() : requireTenantRoleSecret(undefined, env);
    const former = formerTenantRoleSecrets(undefined, env).length;
    const rotating = former ? `; ${former} former secrets (CGK_TENANT_ROLE_SECRETS_OLD) still tried` : '';
    checks.push({ name: 'login secret', status: 'ok', detail: `set (${secret.length} characters; never printed)${rotating}` });
  } catch (error) {
    checks.push(failure('login secret', error));
  }
  if (config?.url) checks.push(poolCheck(config.url));
  if (!db || !secret || !config?.url) {
    checks.push({ name: 'tenant logins', status: 'warn', detail: 'skipped: no secret, or the database was not reached' });
    return checks;
  }
  try {
    const census = (await db.sql.query<RoleCensus>(CENSUS)).rows[0]!;
    checks.push(roleCheck(census));
    checks.push(await loginCheck(census, config.url, secret));
  } catch (error) {
    checks.push(failure('tenant logins', error));
  }
  return checks;
}

/** The tenant roles' attributes: all can log in, none has a power that would let a scope out. */
function roleCheck(c: RoleCensus): DoctorCheck {
  const name = 'tenant role attributes';
  const detail =
    `${c.roles} tenant roles for ${c.tenants} tenants; application role ${c.app}` +
    `${c.app_super ? ' (superuser)' : ''}${c.app_bypassrls ? ' (BYPASSRLS)' : ''}`;
  if (c.powerful > 0 || c.members > 0) {
    return {
      name,
      status: 'fail',
      detail: `${detail}; ${c.powerful} with SUPERUSER/BYPASSRLS/CREATEROLE/CREATEDB, ${c.members} members of another role`,
      hint:
        'A tenant role must have no power and belong to no other role (SET ROLE would reach it): ' +
        'ALTER ROLE ... NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB, and REVOKE the membership.',
    };
  }
  if (c.nologin > 0 || c.roles < c.tenants) {
    return {
      name,
      status: 'fail',
      detail: `${detail}; ${c.nologin} cannot log in, ${Math.max(0, c.tenants - c.roles)} missing: their scopes fail`,
      hint: REPAIR,
    };
  }
  if (c.app_super || c.app_bypassrls) {
    return {
      name,
      status: 'warn',
      detail,
      hint: 'The application role needs no superuser nor BYPASSRLS: an ordinary role with CREATEROLE owning the database.',
    };
  }
  return { name, status: 'ok', detail: `${detail}; every tenant role can log in and has no other power` };
}

/** Logs in once as the oldest tenant's role with its derived password, as a scope would. */
async function loginCheck(c: RoleCensus, url: string, secret: string): Promise<DoctorCheck> {
  const name = 'tenant login';
  if (!c.first_slug) return { name, status: 'ok', detail: 'no tenant yet: nothing to log in as' };
  const role = tenantRoleNameForTag(c.first_slug, c.tag);
  const settings = parsePoolSettings(url);
  const target = new URL(settings.connectionString);
  target.username = role;
  target.password = tenantRolePassword(secret, role);
  // pg is imported here, not at the top: importing @cgk/db must not load it (tests/packaging.test.ts).
  const { default: pg } = await import('pg');
  const client = new pg.Client({ ...pgSslSettings(target.toString()), connectionTimeoutMillis: settings.connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ who: string }>('select session_user::text as who');
    return {
      name,
      status: 'ok',
      detail:
        `logged in as tenant "${c.first_slug}" (${rows[0]?.who}) with its derived password` +
        ' (a server that trusts this host checks no password: PgBouncer or the server must use scram-sha-256)',
    };
  } catch (error) {
    const typed = normalizeDriverError(error, settings.redacted);
    return { ...failure(name, typed), hint: `Tenant "${c.first_slug}" cannot log in as ${role}. ${REPAIR}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The bounds of the per-tenant pools, and what a PgBouncer in front means for them. */
function poolCheck(url: string): DoctorCheck {
  const name = 'tenant pools';
  try {
    const settings = parsePoolSettings(url);
    const bouncer = new URL(url).port === '6432';
    return {
      name,
      status: 'ok',
      detail:
        `at most ${settings.tenantPoolMax} connections (tenant_pool_max) for at most ${settings.tenantPoolTenants} tenants` +
        ` (tenant_pool_tenants), on top of the application role's pool_max ${settings.max}` +
        (bouncer
          ? '; through PgBouncer each tenant role has a server pool of its own (default_pool_size each): bound them' +
            ' all with max_db_connections'
          : ''),
    };
  } catch (error) {
    return failure(name, error);
  }
}
