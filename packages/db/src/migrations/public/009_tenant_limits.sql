-- Creates public.tenant_limits: per-tenant limits a tenant scope applies (statement_timeout, work_mem, concurrent scopes).

CREATE TABLE public.tenant_limits (
  organization_id      uuid PRIMARY KEY REFERENCES public.organizations (id) ON DELETE CASCADE,
  statement_timeout_ms integer,
  work_mem_kb          integer,
  max_scopes           integer,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenant_limits_statement_timeout_range CHECK (statement_timeout_ms BETWEEN 1 AND 2147483647),
  -- PostgreSQL's own bounds of work_mem: 64 kB to 2 TB (in kB).
  CONSTRAINT tenant_limits_work_mem_range CHECK (work_mem_kb BETWEEN 64 AND 2147483647),
  CONSTRAINT tenant_limits_max_scopes_range CHECK (max_scopes BETWEEN 1 AND 10000)
);

CREATE TRIGGER tenant_limits_set_updated_at
  BEFORE UPDATE ON public.tenant_limits
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.tenant_limits IS
  'Limits of one tenant, applied by every tenant scope (lifecycle/limits.ts); a NULL column means the configured default.';
COMMENT ON COLUMN public.tenant_limits.max_scopes IS
  'Most scopes (pooled connections) the tenant holds at once in one process; in login mode also the role''s CONNECTION LIMIT.';
