-- Creates public.sessions (user sessions, stored by token hash).

CREATE TABLE public.sessions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL,
  organization_id uuid NOT NULL,
  token_hash      text NOT NULL,
  expires_at      timestamptz NOT NULL,
  ip_address      text,
  user_agent      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
    REFERENCES public.users (id) ON DELETE CASCADE,
  CONSTRAINT sessions_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES public.organizations (id) ON DELETE CASCADE,
  -- The session's organization is its user's organization.
  CONSTRAINT sessions_user_id_organization_id_fkey FOREIGN KEY (user_id, organization_id)
    REFERENCES public.users (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
  CONSTRAINT sessions_token_hash_not_empty CHECK (token_hash <> '')
);

CREATE INDEX sessions_user_id_idx ON public.sessions (user_id);
CREATE INDEX sessions_organization_id_idx ON public.sessions (organization_id);
-- Purging expired sessions.
CREATE INDEX sessions_expires_at_idx ON public.sessions (expires_at);

CREATE TRIGGER sessions_set_updated_at
  BEFORE UPDATE ON public.sessions
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.sessions IS 'User sessions; the token itself is never stored, only its hash.';
COMMENT ON COLUMN public.sessions.token_hash IS 'Hash (e.g. hex SHA-256) of the session token.';
COMMENT ON COLUMN public.sessions.revoked_at IS 'Set when the session is revoked (log-out); NULL while it may be used.';
