-- Creates the user_role and user_status enums and public.users (platform users, each a member of one organization).

CREATE TYPE public.user_role AS ENUM ('owner', 'admin', 'member');
CREATE TYPE public.user_status AS ENUM ('active', 'invited', 'disabled');

CREATE TABLE public.users (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL,
  email           text NOT NULL,
  password_hash   text,
  role            public.user_role NOT NULL DEFAULT 'member',
  status          public.user_status NOT NULL DEFAULT 'active',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES public.organizations (id) ON DELETE CASCADE,
  -- Target of sessions' (user_id, organization_id) foreign key: a session cannot name another organization.
  CONSTRAINT users_id_organization_id_key UNIQUE (id, organization_id),
  CONSTRAINT users_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND length(email) <= 320),
  CONSTRAINT users_password_hash_not_empty CHECK (password_hash <> '')
);

-- One account per e-mail address per organization, whatever its case.
CREATE UNIQUE INDEX users_organization_id_lower_email_key ON public.users (organization_id, lower(email));
-- Log-in lookup across organizations: WHERE lower(email) = lower($1).
CREATE INDEX users_lower_email_idx ON public.users (lower(email));

CREATE TRIGGER users_set_updated_at
  BEFORE UPDATE ON public.users
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.users IS 'Platform users; each belongs to one organization with a role.';
COMMENT ON COLUMN public.users.email IS 'Compared case-insensitively: query with lower(email) = lower($1).';
COMMENT ON COLUMN public.users.password_hash IS 'Password hash (e.g. argon2id/bcrypt string); NULL for magic-link-only users.';
