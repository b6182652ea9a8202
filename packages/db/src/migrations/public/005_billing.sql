-- Creates the billing_status and billing_interval enums and public.billing (Stripe-backed subscription records of organizations).

CREATE TYPE public.billing_status AS ENUM ('trialing', 'active', 'past_due', 'canceled', 'unpaid', 'incomplete');
CREATE TYPE public.billing_interval AS ENUM ('month', 'year');

CREATE TABLE public.billing (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id        uuid NOT NULL,
  plan                   text NOT NULL,
  status                 public.billing_status NOT NULL DEFAULT 'incomplete',
  stripe_customer_id     text,
  stripe_subscription_id text,
  current_period_start   timestamptz,
  current_period_end     timestamptz,
  cancel_at              timestamptz,
  canceled_at            timestamptz,
  amount_cents           bigint NOT NULL DEFAULT 0,
  currency               char(3) NOT NULL DEFAULT 'USD',
  interval               public.billing_interval NOT NULL DEFAULT 'month',
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT billing_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES public.organizations (id) ON DELETE CASCADE,
  CONSTRAINT billing_plan_not_blank CHECK (btrim(plan) <> ''),
  CONSTRAINT billing_stripe_customer_id_format CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
  CONSTRAINT billing_stripe_subscription_id_format CHECK (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
  CONSTRAINT billing_current_period_order CHECK (current_period_end > current_period_start),
  CONSTRAINT billing_amount_cents_non_negative CHECK (amount_cents >= 0),
  CONSTRAINT billing_currency_iso CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE UNIQUE INDEX billing_stripe_subscription_id_key
  ON public.billing (stripe_subscription_id) WHERE stripe_subscription_id IS NOT NULL;
CREATE INDEX billing_organization_id_idx ON public.billing (organization_id);
CREATE INDEX billing_stripe_customer_id_idx ON public.billing (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX billing_status_idx ON public.billing (status);

CREATE TRIGGER billing_set_updated_at
  BEFORE UPDATE ON public.billing
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

COMMENT ON TABLE public.billing IS
  'Subscription records of organizations, mirrored from Stripe subscriptions (one row per Stripe subscription; an organization may have several over time).';
COMMENT ON COLUMN public.billing.plan IS 'Plan key (e.g. starter, growth); the Stripe price is the source of truth for amount and interval.';
COMMENT ON COLUMN public.billing.status IS 'Stripe subscription status (incomplete_expired is stored as canceled).';
COMMENT ON COLUMN public.billing.amount_cents IS 'Price per interval in the smallest currency unit.';
COMMENT ON COLUMN public.billing.currency IS 'ISO 4217 code, upper case (Stripe sends lower case: upper() it).';
COMMENT ON COLUMN public.billing.cancel_at IS 'When a scheduled cancellation takes effect (Stripe cancel_at / end of period); NULL if none.';
COMMENT ON COLUMN public.billing.canceled_at IS 'When the subscription was canceled (Stripe canceled_at).';
