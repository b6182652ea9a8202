-- Tenant lifecycle (#28): any slug the application accepts is accepted here too (pg_x, select, user: the schema is tenant_{slug} and the role is prefixed, so no name collides with PostgreSQL's), and pending tenants (built in advance under a placeholder slug, claimed by createTenant).

ALTER TABLE public.organizations DROP CONSTRAINT organizations_slug_format;
-- Same rule as the application's slug check: the tenant schema is 'tenant_' || slug and must fit 63 bytes.
ALTER TABLE public.organizations ADD CONSTRAINT organizations_slug_format CHECK (
  slug ~ '^[a-z][a-z0-9_]*$' AND length(slug) <= 56
);

-- A pending tenant: migrated and ready, waiting to be claimed by createTenant (which renames it). Hidden from tenant:list.
ALTER TABLE public.organizations ADD COLUMN pending boolean NOT NULL DEFAULT false;
-- The claim's pick (oldest pending first) reads only this small index, whatever the number of tenants.
CREATE INDEX organizations_pending_idx ON public.organizations (created_at, id) WHERE pending;

COMMENT ON COLUMN public.organizations.pending IS
  'True for a pending tenant: built in advance under a placeholder slug (tenant:pending), claimed and renamed by createTenant.';
COMMENT ON COLUMN public.organizations.slug IS
  'Tenant slug: [a-z][a-z0-9_]*, at most 56 characters; the tenant schema is tenant_{slug}.';
