-- Creates public.operator_actions: what operators did to tenants through the console (who, what, when, outcome).

CREATE TABLE public.operator_actions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action      text NOT NULL,
  tenant_slug text,
  actor       text NOT NULL,
  outcome     text NOT NULL,
  detail      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT operator_actions_outcome CHECK (outcome IN ('ok', 'failed'))
);

CREATE INDEX operator_actions_created_at_idx ON public.operator_actions (created_at DESC);

CREATE TRIGGER operator_actions_set_updated_at
  BEFORE UPDATE ON public.operator_actions
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.operator_actions IS
  'Operator actions taken through the console (create, suspend, activate, migrate a tenant), each with its outcome; append-only.';
