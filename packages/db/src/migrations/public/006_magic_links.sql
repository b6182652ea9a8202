-- Creates the magic_link_purpose enum and public.magic_links (passwordless log-in, sign-up and invitation tokens, stored by hash).

CREATE TYPE public.magic_link_purpose AS ENUM ('login', 'signup', 'invite');

CREATE TABLE public.magic_links (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email      text NOT NULL,
  token_hash text NOT NULL,
  purpose    public.magic_link_purpose NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT magic_links_token_hash_key UNIQUE (token_hash),
  CONSTRAINT magic_links_token_hash_not_empty CHECK (token_hash <> ''),
  CONSTRAINT magic_links_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 320)
);

-- Rate limiting and invalidation by address: WHERE lower(email) = lower($1).
CREATE INDEX magic_links_lower_email_idx ON public.magic_links (lower(email));
-- Purging expired links.
CREATE INDEX magic_links_expires_at_idx ON public.magic_links (expires_at);

CREATE TRIGGER magic_links_set_updated_at
  BEFORE UPDATE ON public.magic_links
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.magic_links IS 'Single-use passwordless tokens (log-in, sign-up, invitation); only the token hash is stored.';
COMMENT ON COLUMN public.magic_links.used_at IS 'Set when the link is consumed; a used link is never accepted again.';
