-- Creates the discount_type and discount_code_status enums and discount_codes (store discount codes, including creators' personal codes).

CREATE TYPE discount_type AS ENUM ('percentage', 'fixed_amount', 'free_shipping');
CREATE TYPE discount_code_status AS ENUM ('active', 'scheduled', 'expired', 'disabled');

CREATE TABLE discount_codes (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code                   text NOT NULL,
  creator_id             uuid,
  type                   discount_type NOT NULL,
  percentage_bps         integer,
  amount_cents           bigint,
  currency               char(3),
  minimum_subtotal_cents bigint,
  usage_limit            integer,
  usage_count            integer NOT NULL DEFAULT 0,
  status                 discount_code_status NOT NULL DEFAULT 'active',
  starts_at              timestamptz,
  ends_at                timestamptz,
  shopify_discount_id    text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT discount_codes_creator_id_fkey FOREIGN KEY (creator_id)
    REFERENCES creators (id) ON DELETE SET NULL,
  CONSTRAINT discount_codes_shopify_discount_id_key UNIQUE (shopify_discount_id),
  CONSTRAINT discount_codes_code_format CHECK (code <> '' AND code !~ '[[:space:]]'),
  -- Exactly the value its type needs: a percentage (basis points), an amount with its currency, or nothing.
  CONSTRAINT discount_codes_value_matches_type CHECK (
    (type = 'percentage' AND percentage_bps IS NOT NULL AND amount_cents IS NULL)
    OR (type = 'fixed_amount' AND amount_cents IS NOT NULL AND percentage_bps IS NULL)
    OR (type = 'free_shipping' AND percentage_bps IS NULL AND amount_cents IS NULL)
  ),
  CONSTRAINT discount_codes_percentage_bps_range CHECK (percentage_bps BETWEEN 1 AND 10000),
  CONSTRAINT discount_codes_amount_cents_positive CHECK (amount_cents > 0),
  CONSTRAINT discount_codes_minimum_subtotal_cents_non_negative CHECK (minimum_subtotal_cents >= 0),
  CONSTRAINT discount_codes_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT discount_codes_money_has_currency CHECK (
    (amount_cents IS NULL AND minimum_subtotal_cents IS NULL) OR currency IS NOT NULL
  ),
  CONSTRAINT discount_codes_usage_limit_positive CHECK (usage_limit > 0),
  CONSTRAINT discount_codes_usage_count_non_negative CHECK (usage_count >= 0),
  CONSTRAINT discount_codes_window_order CHECK (ends_at > starts_at)
);

-- Codes are case-insensitive at checkout, as in Shopify.
CREATE UNIQUE INDEX discount_codes_lower_code_key ON discount_codes (lower(code));
CREATE INDEX discount_codes_creator_id_idx ON discount_codes (creator_id);
CREATE INDEX discount_codes_status_idx ON discount_codes (status);

CREATE TRIGGER discount_codes_set_updated_at
  BEFORE UPDATE ON discount_codes
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE discount_codes IS 'Discount codes of the store (synced with Shopify); a code with creator_id is that creator''s personal code and attributes orders to them.';
COMMENT ON COLUMN discount_codes.percentage_bps IS 'Percentage off in basis points (1500 = 15%), for type percentage.';
COMMENT ON COLUMN discount_codes.amount_cents IS 'Amount off in integer cents of currency, for type fixed_amount.';
