-- Creates public.fleet_runs and public.fleet_run_tenants: the records of forEachTenant / `cgk tenant:exec` runs (what ran, over which tenants, each tenant's outcome), which `--resume` reads.

CREATE TABLE public.fleet_runs (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  label       text NOT NULL,
  digest      text,
  selection   jsonb NOT NULL DEFAULT '{}'::jsonb,
  in_transaction boolean NOT NULL DEFAULT true,
  status      text NOT NULL DEFAULT 'running',
  total       integer NOT NULL DEFAULT 0,
  succeeded   integer NOT NULL DEFAULT 0,
  failed      integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT fleet_runs_status CHECK (status IN ('running', 'finished', 'stopped')),
  CONSTRAINT fleet_runs_selection_is_object CHECK (jsonb_typeof(selection) = 'object')
);

CREATE TABLE public.fleet_run_tenants (
  run_id        uuid NOT NULL REFERENCES public.fleet_runs (id) ON DELETE CASCADE,
  slug          text NOT NULL,
  status        text NOT NULL,
  xid           xid8,
  error_code    text,
  error_message text,
  duration_ms   integer,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, slug),
  CONSTRAINT fleet_run_tenants_status CHECK (status IN ('started', 'succeeded', 'failed'))
);

CREATE INDEX fleet_runs_created_at_idx ON public.fleet_runs (created_at);

CREATE TRIGGER fleet_runs_set_updated_at
  BEFORE UPDATE ON public.fleet_runs
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

CREATE TRIGGER fleet_run_tenants_set_updated_at
  BEFORE UPDATE ON public.fleet_run_tenants
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.fleet_runs IS
  'One row per forEachTenant / tenant:exec run (created_at: when it started): what ran (label, digest of the SQL or module), the tenant selection, counts.';
COMMENT ON COLUMN public.fleet_runs.digest IS
  'SHA-256 of the work (SQL text or module file): --resume refuses other work under the same run id.';
COMMENT ON TABLE public.fleet_run_tenants IS
  'Each tenant''s outcome in a run. status started = its transaction (xid) was about to commit: pg_xact_status(xid) tells whether it did.';
