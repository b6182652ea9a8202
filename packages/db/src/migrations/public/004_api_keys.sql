-- Creates public.api_keys (organization API keys, stored by key hash).

CREATE TABLE public.api_keys (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL,
  key_hash        text NOT NULL,
  name            text NOT NULL,
  scopes          text[] NOT NULL DEFAULT '{}',
  expires_at      timestamptz,
  last_used_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  CONSTRAINT api_keys_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES public.organizations (id) ON DELETE CASCADE,
  CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
  CONSTRAINT api_keys_key_hash_not_empty CHECK (key_hash <> ''),
  CONSTRAINT api_keys_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT api_keys_scopes_no_nulls CHECK (array_position(scopes, NULL) IS NULL)
);

CREATE INDEX api_keys_organization_id_idx ON public.api_keys (organization_id);

CREATE TRIGGER api_keys_set_updated_at
  BEFORE UPDATE ON public.api_keys
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.api_keys IS 'API keys of organizations; the key itself is never stored, only its hash.';
COMMENT ON COLUMN public.api_keys.key_hash IS 'Hash (e.g. hex SHA-256) of the API key.';
COMMENT ON COLUMN public.api_keys.last_used_at IS 'Last successful use; NULL until first used.';
