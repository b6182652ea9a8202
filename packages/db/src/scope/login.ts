import type { ScopeOwner } from './owner.js';
import { REFUSED_PASSWORD } from '../drivers/errors.js';
import { CgkError, ConnectionError, TenantNotFoundError } from '../errors/index.js';

/**
 * What a tenant scope needs in the login isolation mode (docs/ISOLATION.md): the role its connection logs in
 * as, and a useful error when that login fails.
 */

/**
 * The tenant's role name. Asks for the secret first, so a missing one is a `ConfigError` before any connection
 * is attempted; the first call of a database also learns the database's tag (one query on the application pool).
 */
export async function loginRole(db: ScopeOwner, slug: string): Promise<string> {
  db.tenantRoleSecret();
  return db.tenantRoleName(slug);
}

const NO_ROLE = /role ".*" does not exist|no such user/i;
const NO_LOGIN = /is not permitted to log in/i;

/**
 * A failed login as the tenant's role, explained: a tenant without a schema is `TenantNotFoundError` (its
 * role does not exist either); a missing role or one without LOGIN is `CGK_ROLE` with the repair command; a
 * refused password stays a `ConnectionError` (CGK_CONNECTION) whose hint names the secret. Anything else
 * (the server is down, the pool is exhausted) is returned unchanged. One query, on the error path only.
 */
export async function loginFailure(db: ScopeOwner, slug: string, schema: string, error: unknown): Promise<unknown> {
  if (!(error instanceof ConnectionError)) return error;
  const message = error.message;
  if (!NO_ROLE.test(message) && !NO_LOGIN.test(message) && !REFUSED_PASSWORD.test(message)) return error;
  // Under password authentication a missing role is refused like a wrong password (the server does not say
  // which): whether the role exists is asked in the same query.
  const { found, role } = await db
    .query({
      text: 'select to_regnamespace($1) is not null as found, exists (select 1 from pg_roles where rolname = $2) as role',
      values: [schema, await db.tenantRoleName(slug)],
    })
    .then((r) => ({ found: r.rows[0]?.found === true, role: r.rows[0]?.role === true }))
    .catch(() => ({ found: true, role: true }));
  if (!found) return new TenantNotFoundError(slug, error);
  const repair = `npx @cgk/cli tenant:repair ${slug}`;
  if (NO_ROLE.test(message) || NO_LOGIN.test(message) || !role) {
    const why = NO_LOGIN.test(message) ? 'may not log in' : 'does not exist';
    return new CgkError('CGK_ROLE', `Tenant "${slug}": its database role ${why}, and tenant roles are in login mode`, {
      hint: `Give it LOGIN and its password with: ${repair} (with the same CGK_TENANT_ROLE_SECRET as the application)`,
      cause: error,
    });
  }
  return new ConnectionError(`Tenant "${slug}": the server refused the tenant role's password (${message})`, {
    hint:
      `The role's password was set with another CGK_TENANT_ROLE_SECRET than this process uses: run ${repair} ` +
      '(or tenant:repair for every tenant) with the secret the application uses; behind PgBouncer, also refresh its ' +
      'auth_file unless it uses auth_query.',
    cause: error,
  });
}

/**
 * A tenant scope's query that Citus could not take to a worker because the tenant role may not log in there,
 * or the worker refused its authentication: a `CGK_ROLE` error saying what to do. Undefined for any other error.
 */
export function workerLoginError(error: unknown, slug: string): CgkError | undefined {
  // The coordinator reports it with SQLSTATE 08006, which the driver layer types as a ConnectionError.
  if (!(error instanceof CgkError) || !/connection to the remote node .* failed/.test(error.message)) return undefined;
  const nologin = /is not permitted to log in/.test(error.message);
  const why = nologin ? 'the role may not log in' : 'the worker refused it';
  return new CgkError('CGK_ROLE', `Tenant "${slug}": Citus could not connect to a worker as the tenant's role (${why})`, {
    hint: nologin
      ? `On Citus tenant roles need LOGIN: npx @cgk/cli tenant:repair ${slug} (or CGK_TENANT_ROLES=off: search_path only)`
      : 'The workers must authenticate tenant roles (pg_dist_authinfo, a .pgpass on the coordinator, or certificates):' +
        ' see docs/SCALING.md',
    cause: error,
  });
}
