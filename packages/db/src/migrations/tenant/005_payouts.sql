-- Creates the payout_status and payout_method enums and payouts (money paid out to creators).

CREATE TYPE payout_status AS ENUM ('pending', 'processing', 'paid', 'failed', 'cancelled');
CREATE TYPE payout_method AS ENUM ('stripe_connect', 'paypal', 'bank_transfer', 'store_credit', 'manual');

CREATE TABLE payouts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  creator_id         uuid NOT NULL,
  amount_cents       bigint NOT NULL,
  currency           char(3) NOT NULL,
  status             payout_status NOT NULL DEFAULT 'pending',
  method             payout_method NOT NULL,
  period_start       date,
  period_end         date,
  external_reference text,
  paid_at            timestamptz,
  failed_at          timestamptz,
  failure_reason     text,
  notes              text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  -- Money history: a creator with payouts cannot be deleted.
  CONSTRAINT payouts_creator_id_fkey FOREIGN KEY (creator_id)
    REFERENCES creators (id) ON DELETE RESTRICT,
  CONSTRAINT payouts_amount_cents_positive CHECK (amount_cents > 0),
  CONSTRAINT payouts_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT payouts_period_order CHECK (period_end >= period_start),
  CONSTRAINT payouts_paid_has_paid_at CHECK (status <> 'paid' OR paid_at IS NOT NULL)
);

-- A provider's transfer id (Stripe tr_..., PayPal batch id) is recorded once.
CREATE UNIQUE INDEX payouts_method_external_reference_key
  ON payouts (method, external_reference) WHERE external_reference IS NOT NULL;
CREATE INDEX payouts_creator_id_idx ON payouts (creator_id);
CREATE INDEX payouts_status_idx ON payouts (status);
CREATE INDEX payouts_created_at_idx ON payouts (created_at);

CREATE TRIGGER payouts_set_updated_at
  BEFORE UPDATE ON payouts
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE payouts IS 'Payouts to creators (payout history), in integer cents of currency.';
COMMENT ON COLUMN payouts.external_reference IS 'Id of the transfer at the payment provider (e.g. Stripe tr_...).';
