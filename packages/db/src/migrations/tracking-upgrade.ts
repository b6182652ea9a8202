/**
 * The in-place upgrade of the runner's tables from the one-set form of older releases (no `migration_set`
 * column) to the form with migration sets. Rows already there are the platform's (the only set there was),
 * so nothing is lost and no checksum changes meaning: the column is added with that default and the primary
 * key becomes (set, version) for `schema_migrations`, (schema, set) for the summary. Every tracking table
 * of `public` and of the `tenant_*` schemas is upgraded in the same transaction, so a runner never meets a
 * mixed database; once done, the statement only reads the catalog (an index lookup per tracking table).
 */
export const TRACKING_UPGRADE_SQL = `do $cgk$
declare
  t regclass;
  pk text;
begin
  for t in
    select c.oid::regclass from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'r'
      and ((n.nspname = 'public' and c.relname in ('schema_migrations', 'tenant_migration_state'))
        or (n.nspname like 'tenant\\_%' and c.relname = 'schema_migrations'))
      and not exists (select 1 from pg_attribute a
                      where a.attrelid = c.oid and a.attname = 'migration_set' and not a.attisdropped)
  loop
    select conname into pk from pg_constraint where conrelid = t and contype = 'p';
    execute format('alter table %s add column migration_set text not null default %L', t, 'platform');
    if pk is not null then execute format('alter table %s drop constraint %I', t, pk); end if;
    if t = to_regclass('public.tenant_migration_state') then
      execute format('alter table %s add primary key (schema_name, migration_set)', t);
    else
      execute format('alter table %s add primary key (migration_set, version)', t);
    end if;
  end loop;
end
$cgk$`;
