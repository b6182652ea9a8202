import { InvalidIdentifierError } from '../errors/index.js';
import { tenantRoleExpression } from '../roles/tenant-role.js';
import { schemaNameFor } from '../sql/identifier.js';

/**
 * Moving a tenant from one slug to another inside the caller's transaction: what a claimed pending tenant
 * and `renameTenant` both do. Everything a tenant owns is found by OID except its names, so renaming the
 * schema and the role carries the tables, sequences, grants and default privileges along; only the rows that
 * name the schema as text (the migration summary) are updated.
 */

const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/** Options of `moveNamesSql`. */
export interface MoveNamesOptions {
  /**
   * Login mode: the verifier of the role's NEW password. Passwords derive from the role's name
   * (roles/credentials.ts), so a renamed role must get the one of its new name in the same transaction.
   */
  verifier?: string | undefined;
  /**
   * End the sessions logged in as the role (login mode's pooled connections), as dropping a role does: a
   * pooled connection of the old slug must not serve the new one.
   */
  endSessions?: boolean;
}

/**
 * SQL that renames, in the current transaction, the schema `tenant_{from}` to `tenant_{to}`, the role of
 * `from` (when it exists, whatever the isolation mode: a role left behind under the old name would keep its
 * rights on the renamed schema and be adopted by a later tenant of that slug) to the role of `to`, and the
 * migration summary row. A schema `tenant_{to}` that exists fails with 42P06, a role of `to` that exists
 * with 42710 (duplicate_object); both roll the caller's transaction back.
 */
export function moveNamesSql(from: string, to: string, options: MoveNamesOptions = {}): string {
  const [oldSchema, newSchema] = [schemaNameFor(from), schemaNameFor(to)];
  if (options.verifier !== undefined && !VERIFIER.test(options.verifier)) {
    throw new InvalidIdentifierError('(verifier)', 'a tenant role password must be a SCRAM-SHA-256 verifier');
  }
  const password =
    options.verifier === undefined ? '' : `\n    execute format('alter role %I login password ''${options.verifier}''', t);`;
  const end = options.endSessions
    ? `
    begin
      perform pg_terminate_backend(pid) from pg_stat_activity where usename = f and pid <> pg_backend_pid();
    exception when insufficient_privilege then
      null; -- not a member of the role (made by hand): its sessions stay
    end;`
    : '';
  return `alter schema ${oldSchema} rename to ${newSchema};
do $cgk$
declare f text := ${tenantRoleExpression(from)}; t text := ${tenantRoleExpression(to)};
begin
  if exists (select 1 from pg_roles where rolname = f) then
    if exists (select 1 from pg_roles where rolname = t) then
      raise exception 'role "%" already exists', t using errcode = 'duplicate_object';
    end if;${end}
    execute format('alter role %I rename to %I', f, t);${password}
  end if;
  if to_regclass('public.tenant_migration_state') is not null then
    update public.tenant_migration_state set schema_name = '${newSchema}' where schema_name = '${oldSchema}';
  end if;
end $cgk$`;
}
