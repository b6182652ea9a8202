-- Creates public.set_updated_at() (the shared updated_at trigger function), the organization_status enum and public.organizations (the tenant registry).

CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

COMMENT ON FUNCTION public.set_updated_at() IS
  'BEFORE UPDATE row trigger: sets NEW.updated_at to now() (the transaction start time). Used by every table in public; each tenant schema has its own copy.';

CREATE TYPE public.organization_status AS ENUM ('active', 'suspended', 'onboarding');

CREATE TABLE public.organizations (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug                 text NOT NULL,
  name                 text NOT NULL,
  settings             jsonb NOT NULL DEFAULT '{}'::jsonb,
  shopify_store_domain text,
  shopify_access_token text,
  stripe_account_id    text,
  status               public.organization_status NOT NULL DEFAULT 'onboarding',
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT organizations_slug_key UNIQUE (slug),
  -- Same rule as the application's slug check: the tenant schema is 'tenant_' || slug and must fit 63 bytes.
  CONSTRAINT organizations_slug_format CHECK (
    slug ~ '^[a-z][a-z0-9_]*$' AND length(slug) <= 56 AND slug NOT LIKE 'pg\_%'
  ),
  CONSTRAINT organizations_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT organizations_settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
  -- A bare lower-case host name (e.g. 'brand.myshopify.com'), no scheme, path or port.
  CONSTRAINT organizations_shopify_store_domain_format CHECK (
    shopify_store_domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
  ),
  -- Refuses a plaintext Shopify Admin API token (shpat_..., shpca_..., shppa_..., shpss_...): only ciphertext belongs here.
  CONSTRAINT organizations_shopify_access_token_not_plaintext CHECK (
    shopify_access_token !~ '^shp[a-z]{2}_' AND shopify_access_token <> ''
  ),
  CONSTRAINT organizations_stripe_account_id_format CHECK (stripe_account_id ~ '^acct_[A-Za-z0-9]+$')
);

-- One Shopify store and one Stripe account belong to at most one organization.
CREATE UNIQUE INDEX organizations_shopify_store_domain_key
  ON public.organizations (shopify_store_domain) WHERE shopify_store_domain IS NOT NULL;
CREATE UNIQUE INDEX organizations_stripe_account_id_key
  ON public.organizations (stripe_account_id) WHERE stripe_account_id IS NOT NULL;
CREATE INDEX organizations_status_idx ON public.organizations (status);

CREATE TRIGGER organizations_set_updated_at
  BEFORE UPDATE ON public.organizations
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.organizations IS
  'Tenant registry: one row per tenant; its data lives in schema tenant_{slug}.';
COMMENT ON COLUMN public.organizations.slug IS
  'Tenant slug: [a-z][a-z0-9_]*, at most 56 characters; the tenant schema is tenant_{slug}.';
COMMENT ON COLUMN public.organizations.settings IS
  'Tenant settings (theme, feature flags, ...): a JSON object.';
COMMENT ON COLUMN public.organizations.shopify_access_token IS
  'AES-256-GCM ciphertext of the Shopify Admin API access token, encrypted and decrypted by the application (the key is never stored in the database). Never the plaintext token.';
COMMENT ON COLUMN public.organizations.stripe_account_id IS
  'Stripe Connect account id (acct_...) of the tenant.';
