-- Creates the commission_status and attribution_source enums and creator_commissions (attributions of orders to creators and the commission earned).

CREATE TYPE commission_status AS ENUM ('pending', 'approved', 'paid', 'reversed');
CREATE TYPE attribution_source AS ENUM ('discount_code', 'referral_link', 'manual');

CREATE TABLE creator_commissions (
  id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  creator_id                  uuid NOT NULL,
  order_id                    uuid NOT NULL,
  discount_code_id            uuid,
  payout_id                   uuid,
  source                      attribution_source NOT NULL,
  commissionable_amount_cents bigint NOT NULL,
  rate_bps                    integer NOT NULL,
  amount_cents                bigint NOT NULL,
  currency                    char(3) NOT NULL,
  status                      commission_status NOT NULL DEFAULT 'pending',
  approved_at                 timestamptz,
  reversed_at                 timestamptz,
  reversal_reason             text,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  -- Money history: an order, creator or payout that has commissions cannot be deleted (reverse the commission instead).
  CONSTRAINT creator_commissions_creator_id_fkey FOREIGN KEY (creator_id)
    REFERENCES creators (id) ON DELETE RESTRICT,
  CONSTRAINT creator_commissions_order_id_fkey FOREIGN KEY (order_id)
    REFERENCES orders (id) ON DELETE RESTRICT,
  CONSTRAINT creator_commissions_discount_code_id_fkey FOREIGN KEY (discount_code_id)
    REFERENCES discount_codes (id) ON DELETE SET NULL,
  CONSTRAINT creator_commissions_payout_id_fkey FOREIGN KEY (payout_id)
    REFERENCES payouts (id) ON DELETE RESTRICT,
  -- One attribution of an order to a given creator.
  CONSTRAINT creator_commissions_order_id_creator_id_key UNIQUE (order_id, creator_id),
  CONSTRAINT creator_commissions_amounts_non_negative CHECK (
    commissionable_amount_cents >= 0 AND amount_cents >= 0
  ),
  CONSTRAINT creator_commissions_rate_bps_range CHECK (rate_bps BETWEEN 0 AND 10000),
  CONSTRAINT creator_commissions_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT creator_commissions_paid_has_payout CHECK (status <> 'paid' OR payout_id IS NOT NULL)
);

CREATE INDEX creator_commissions_creator_id_status_idx ON creator_commissions (creator_id, status);
CREATE INDEX creator_commissions_discount_code_id_idx ON creator_commissions (discount_code_id);
CREATE INDEX creator_commissions_payout_id_idx ON creator_commissions (payout_id);
CREATE INDEX creator_commissions_status_idx ON creator_commissions (status);
CREATE INDEX creator_commissions_created_at_idx ON creator_commissions (created_at);

CREATE TRIGGER creator_commissions_set_updated_at
  BEFORE UPDATE ON creator_commissions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE creator_commissions IS 'Attributions of orders to creators (by discount code, referral link or by hand) and the commission each earns; paid out through payouts.';
COMMENT ON COLUMN creator_commissions.commissionable_amount_cents IS 'Order amount the commission is computed on (usually subtotal after discounts), in integer cents of currency.';
COMMENT ON COLUMN creator_commissions.rate_bps IS 'Commission rate applied, in basis points (snapshot of the creator''s rate at attribution time).';
COMMENT ON COLUMN creator_commissions.payout_id IS 'The payout that paid this commission; required once status is paid.';
