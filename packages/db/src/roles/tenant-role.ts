import { createHash } from 'node:crypto';
import { isCitus } from '../drivers/citus-script.js';
import type { Driver } from '../drivers/types.js';
import { InvalidIdentifierError } from '../errors/index.js';
import { assertValidSlug, schemaNameFor } from '../sql/identifier.js';

/**
 * A PostgreSQL role per tenant, so that isolation is enforced by the server and not only by `search_path`.
 *
 * Roles are cluster-wide while schemas live in one database: two databases on one server (development and
 * test, parallel test runs) may hold the same slug. So a role name carries a tag of the database it belongs
 * to, computed by the server itself (`md5(current_database())`): the scope's prelude can name the role in
 * the same statement that sets `search_path`, with no lookup and no extra round trip.
 *
 * Name: `ct_` + 8 hex of md5(database) + `_` + slug (slugs over 40 characters: their first 40 + `_` + 8 hex
 * of md5(slug)), at most 61 bytes.
 */

const SLUG_PART_MAX = 40;

/** The slug part of a tenant's role name (everything after the database tag). */
function roleSuffix(slug: string): string {
  assertValidSlug(slug);
  if (slug.length <= SLUG_PART_MAX) return slug;
  return `${slug.slice(0, SLUG_PART_MAX)}_${createHash('md5').update(slug).digest('hex').slice(0, 8)}`;
}

/** A SQL expression that evaluates, on the server, to the tenant's role name in the current database. */
export function tenantRoleExpression(slug: string): string {
  return `('ct_' || ${DATABASE_TAG_EXPRESSION} || '_${roleSuffix(slug)}')`;
}

/** SQL that evaluates to the tag of the current database (the part of role names that names it). */
export const DATABASE_TAG_EXPRESSION = 'left(md5(current_database()), 8)';

/** The tag of the database called `database`: what `DATABASE_TAG_EXPRESSION` evaluates to there. */
export function tagOfDatabase(database: string): string {
  return createHash('md5').update(database).digest('hex').slice(0, 8);
}

/** The role name of `slug` in the database whose tag is `tag` (see `tagOfDatabase`). */
export function tenantRoleNameForTag(slug: string, tag: string): string {
  if (!/^[0-9a-f]{8}$/.test(tag)) throw new InvalidIdentifierError(tag, 'a database tag is 8 lowercase hex digits');
  return `ct_${tag}_${roleSuffix(slug)}`;
}

/** The role name of `slug` in the database called `database` (what `tenantRoleExpression` evaluates to there). */
export function tenantRoleName(slug: string, database: string): string {
  return tenantRoleNameForTag(slug, tagOfDatabase(database));
}

/** What a tenant role may do in its own schema. Everything else (other tenants, platform tables) it may not. */
const TABLE_RIGHTS = 'select, insert, update, delete';

/**
 * SQL that creates the tenant's role if missing (NOLOGIN; with `login`, LOGIN without a password, turning an
 * existing NOLOGIN role into a LOGIN one: on Citus the workers are reached as the tenant role, see
 * docs/SCALING.md; with `verifier`, the login isolation mode: LOGIN with that password verifier, set on every
 * run, and CONNECT on the database) and sets up its rights: usage of its own schema, DML
 * on its tables and usage of its sequences by default (`alter default privileges`, so every table a
 * migration creates later gets them), and membership for the application role so that it may `SET ROLE` to
 * it (superusers need none, ordinary owners do). Idempotent.
 *
 * With `existingTables` it also grants on the tables and sequences already in the schema (for `repair`).
 * Tenant creation runs it BEFORE the migrations instead and leaves that out: `grant ... on all tables in
 * schema` scans the whole of pg_class, a cost that grows with every tenant on the server (docs/SCALING.md).
 * Either way, run `revokeBookkeepingSql` after the migrations.
 */
export function grantTenantRoleSql(slug: string, options: GrantOptions = {}): string {
  const schema = schemaNameFor(slug);
  const role = tenantRoleExpression(slug);
  const existing = options.existingTables
    ? `
  execute format('grant ${TABLE_RIGHTS} on all tables in schema ${schema} to %I', r);
  execute format('grant usage, select on all sequences in schema ${schema} to %I', r);`
    : '';
  return `do $cgk$
declare r text := ${role};
begin
${createRoleSql(options)}
  if not exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles u on u.oid = m.member
                 where g.rolname = r and u.rolname = current_user) then
    execute format('grant %I to %I', r, current_user);
  end if;
  execute format('grant usage on schema ${schema} to %I', r);
  execute format('alter default privileges in schema ${schema} grant ${TABLE_RIGHTS} on tables to %I', r);
  execute format('alter default privileges in schema ${schema} grant usage, select on sequences to %I', r);${existing}
end $cgk$;
${revokeBookkeepingSql(slug)}`;
}

/** What `grantTenantRoleSql` also does. */
export interface GrantOptions {
  /** Grant on the tables and sequences already in the schema too (repair). */
  existingTables?: boolean;
  /** The role may log in (Citus workers, login mode). */
  login?: boolean;
  /**
   * Login mode: the role's password, as a SCRAM-SHA-256 verifier (roles/credentials.ts), set on every run
   * (a changed secret takes effect at the next repair); also grants CONNECT on the database.
   */
  verifier?: string;
}

const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/** The role's creation (or update to LOGIN / a new password) inside grantTenantRoleSql's block. */
function createRoleSql(options: GrantOptions): string {
  const login = options.login || options.verifier !== undefined;
  if (options.verifier !== undefined && !VERIFIER.test(options.verifier)) {
    throw new InvalidIdentifierError('(verifier)', 'a tenant role password must be a SCRAM-SHA-256 verifier');
  }
  const password = options.verifier === undefined ? '' : ` password ''${options.verifier}''`;
  const create = `  if not exists (select 1 from pg_roles where rolname = r) then
    execute format('create role %I ${login ? 'login' : 'nologin'}${password}', r);`;
  if (options.verifier !== undefined) {
    // Settings the role gave itself (ALTER ROLE current_user SET ...: any role may) are dropped, and its
    // password set again (any role may change its own). CONNECT updates the database's one catalog row:
    // concurrent grants fail with "tuple concurrently updated" (XX000), so they take turns, and only when
    // the role has no grant yet.
    return `${create}
  else
    execute format('alter role %I login${password}', r);
    execute format('alter role %I reset all', r);
    execute format('alter role %I in database %I reset all', r, current_database());
  end if;
  if not exists (select 1 from pg_database d, aclexplode(d.datacl) a
                 where d.datname = current_database() and a.privilege_type = 'CONNECT'
                   and a.grantee = (select oid from pg_roles where rolname = r)) then
    perform pg_advisory_xact_lock(hashtext('cgk_grant_connect:' || current_database()));
    execute format('grant connect on database %I to %I', current_database(), r);
  end if;`;
  }
  if (!login)
    return `${create}
  end if;`;
  return `${create}
  elsif not (select rolcanlogin from pg_roles where rolname = r) then
    execute format('alter role %I login', r);
  end if;`;
}

/** SQL that takes the tenant role's rights on its schema's migration bookkeeping away, if that table exists yet. */
export function revokeBookkeepingSql(slug: string): string {
  const schema = schemaNameFor(slug);
  return `do $cgk$
begin
  if to_regclass('${schema}.schema_migrations') is not null then
    execute format('revoke all on ${schema}.schema_migrations from %I', ${tenantRoleExpression(slug)});
  end if;
end $cgk$`;
}

/**
 * SQL that drops the tenant's role and whatever privileges it still holds in this database, if it exists.
 * Sessions logged in as the role (login mode: pooled connections of any process, PgBouncer's server
 * connections) are ended first: a session of a dropped role would otherwise live on, and serve a tenant
 * re-created with the same slug (a new role of the same name) with the old role's rights. The application
 * role may end them: it is a member of the tenant role.
 */
export function dropTenantRoleSql(slug: string): string {
  const role = tenantRoleExpression(slug);
  return `do $cgk$
declare r text := ${role};
begin
  if exists (select 1 from pg_roles where rolname = r) then
    begin
      perform pg_terminate_backend(pid) from pg_stat_activity where usename = r and pid <> pg_backend_pid();
    exception when insufficient_privilege then
      null; -- not a member of the role (made by hand): its sessions stay, the drop goes on as before
    end;
    execute format('drop owned by %I', r);
    execute format('drop role %I', r);
  end if;
end $cgk$`;
}

/**
 * Whether tenant roles must be able to log in on this database: on Citus, a query that reaches a worker
 * opens its connection there as the current role, i.e. the tenant's (docs/SCALING.md says how the workers
 * authenticate it). Plain PostgreSQL: no, the roles stay NOLOGIN.
 */
export function tenantRolesNeedLogin(driver: Pick<Driver, 'query'>): Promise<boolean> {
  return isCitus(driver);
}
