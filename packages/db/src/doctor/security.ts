import type { Database } from '../database/database.js';
import type { TenantRoleMode } from '../roles/mode.js';
import { DATABASE_TAG_EXPRESSION } from '../roles/tenant-role.js';
import { requireTenantRoleSecret, scramVerifier, tenantRolePassword } from '../roles/credentials.js';
import type { DoctorCheck } from './types.js';
import { failure } from './config.js';

/**
 * The doctor's checks of what a scope could reach if it got out of its tenant (issue #23): a superuser
 * application role (an escape then runs `COPY ... TO PROGRAM` on the database host), tenant roles that can
 * log in to other databases of the cluster, and tenant roles whose settings or password differ from what
 * the library set (any role may `ALTER ROLE current_user SET ...` or change its own password).
 */

const TENANT_ROLES = `r.rolname like 'ct\\_' || ${DATABASE_TAG_EXPRESSION} || '\\_%'`;

const APP_ROLE_SQL = `select current_user::text as app, r.rolsuper as super,
  pg_has_role(current_user, 'pg_execute_server_program', 'USAGE') as program,
  pg_has_role(current_user, 'pg_read_server_files', 'USAGE')
    or pg_has_role(current_user, 'pg_write_server_files', 'USAGE') as files
from pg_roles r where r.rolname = current_user`;

/** Every check of this file, for the isolation `mode` in force; `db` reached (pg driver only: PGlite has one user). */
export async function checkEscapeReach(mode: TenantRoleMode, db: Database, env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const checks = [await appRoleCheck(db)];
  if (mode === 'off') return checks;
  checks.push(await settingsCheck(db), await otherDatabasesCheck(db));
  if (mode === 'login') checks.push(await passwordCheck(db, env));
  return checks;
}

/** A superuser (or a member of pg_execute_server_program / pg_*_server_files) application role: a warning. */
async function appRoleCheck(db: Database): Promise<DoctorCheck> {
  const name = 'app role';
  try {
    const row = (await db.sql.query<{ app: string; super: boolean; program: boolean; files: boolean }>(APP_ROLE_SQL)).rows[0]!;
    const powers = [row.super && 'SUPERUSER', row.program && 'pg_execute_server_program', row.files && 'pg_*_server_files'];
    const held = powers.filter((p): p is string => typeof p === 'string');
    if (held.length === 0) return { name, status: 'ok', detail: `${row.app}: not a superuser, no server program or file access` };
    return {
      name,
      status: 'warn',
      detail:
        `${row.app} has ${held.join(', ')}: SQL that escapes a scope (set-role mode) or runs outside one can run ` +
        '`COPY ... TO PROGRAM` (a shell on the database host) or read and write its files, and passes every permission check',
      hint:
        'Connect the application as an ordinary role that owns its database and may create roles: ' +
        'CREATE ROLE app LOGIN CREATEROLE PASSWORD ...; ALTER DATABASE <db> OWNER TO app (docs/setup/DATABASE.md)',
    };
  } catch (error) {
    return failure(name, error);
  }
}

/** Tenant roles carrying settings of their own (`ALTER ROLE current_user SET ...` from inside a scope). */
async function settingsCheck(db: Database): Promise<DoctorCheck> {
  const name = 'role settings';
  try {
    const { rows } = await db.sql.query<{ rolname: string }>(
      `select r.rolname::text as rolname from pg_roles r where ${TENANT_ROLES}
       and exists (select 1 from pg_db_role_setting s where s.setrole = r.oid) order by 1 limit 6`,
    );
    if (rows.length === 0) return { name, status: 'ok', detail: 'no tenant role has settings of its own' };
    const names = rows.slice(0, 5).map((r) => r.rolname);
    return {
      name,
      status: 'warn',
      detail:
        `${rows.length > 5 ? 'more than 5' : rows.length} tenant roles have settings the library did not set ` +
        `(${names.join(', ')})`,
      hint: 'A scope ran ALTER ROLE current_user SET ... (any role may). Run: npx @cgk/cli tenant:repair (resets them all)',
    };
  } catch (error) {
    return failure(name, error);
  }
}

/** Tenant roles that may log in and CONNECT to another database of the cluster (PUBLIC has CONNECT by default). */
async function otherDatabasesCheck(db: Database): Promise<DoctorCheck> {
  const name = 'role reach';
  try {
    const { rows } = await db.sql.query<{ rolname: string; datname: string }>(
      `with t as (select r.rolname from pg_roles r where ${TENANT_ROLES} and r.rolcanlogin order by 1 limit 1)
       select t.rolname::text as rolname, d.datname::text as datname from t, pg_database d
       where d.datallowconn and d.datname <> current_database() and has_database_privilege(t.rolname, d.oid, 'CONNECT')
       order by 2`,
    );
    if (rows.length === 0) return { name, status: 'ok', detail: 'no tenant role can connect to another database' };
    const dbs = rows.map((r) => r.datname);
    return {
      name,
      status: 'warn',
      detail:
        `tenant roles can log in and CONNECT to ${dbs.length} other databases (${dbs.join(', ')}), ` + `e.g. ${rows[0]!.rolname}`,
      hint:
        `On each of them (as its owner): REVOKE CONNECT ON DATABASE <name> FROM PUBLIC, granting it back to the roles ` +
        'that use it; or in pg_hba.conf, before other lines, reject tenant roles for every other database ' +
        '(docs/ISOLATION.md, "What a tenant role can reach outside its database")',
    };
  } catch (error) {
    return failure(name, error);
  }
}

/**
 * Login mode: each tenant role's stored verifier against the password the library derives. pg_authid is
 * readable by superusers only: for any other application role the check says so and does nothing.
 */
async function passwordCheck(db: Database, env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  const name = 'role passwords';
  let verifiers: Array<{ rolname: string; rolpassword: string | null }>;
  try {
    verifiers = (
      await db.sql.query<{ rolname: string; rolpassword: string | null }>(
        `select r.rolname::text as rolname, r.rolpassword from pg_authid r where ${TENANT_ROLES} order by 1 limit 1000`,
      )
    ).rows;
  } catch {
    return {
      name,
      status: 'ok',
      detail:
        'not checked: password verifiers (pg_authid) are readable by superusers only. A tenant that changed its own ' +
        'password shows as refused logins (CGK_CONNECTION, "refused the tenant role\'s password"); run doctor as a ' +
        'superuser to compare every role, and tenant:repair to set them back',
    };
  }
  try {
    const secret = db.tenantRoleMode === 'login' ? db.tenantRoleSecret() : requireTenantRoleSecret(undefined, env);
    const drifted: string[] = [];
    for (const { rolname, rolpassword } of verifiers) {
      if (!(await matches(rolpassword, tenantRolePassword(secret, rolname)))) drifted.push(rolname);
    }
    if (drifted.length === 0) return { name, status: 'ok', detail: `${verifiers.length} tenant roles have the derived password` };
    return {
      name,
      status: 'warn',
      detail: `${drifted.length} tenant roles have a password the library did not set (${drifted.slice(0, 5).join(', ')})`,
      hint: 'A scope changed its role password (any role may), or the secret changed. Run: npx @cgk/cli tenant:repair',
    };
  } catch (error) {
    return failure(name, error);
  }
}

/** Whether `stored` (a SCRAM-SHA-256 verifier) is the verifier of `password`, with its own salt and iterations. */
async function matches(stored: string | null, password: string): Promise<boolean> {
  const parts = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$/.exec(stored ?? '');
  if (!parts) return false;
  return (await scramVerifier(password, Buffer.from(parts[2]!, 'base64'), Number(parts[1]))) === stored;
}
