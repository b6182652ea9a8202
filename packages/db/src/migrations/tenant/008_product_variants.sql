-- Creates product_variants (purchasable variants of products, with prices and inventory, synced from Shopify).

CREATE TABLE product_variants (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  product_id             uuid NOT NULL,
  shopify_variant_id     text,
  sku                    text,
  barcode                text,
  title                  text NOT NULL,
  selected_options       jsonb NOT NULL DEFAULT '{}'::jsonb,
  price_cents            bigint NOT NULL,
  compare_at_price_cents bigint,
  currency               char(3) NOT NULL,
  inventory_quantity     integer,
  weight_grams           integer,
  requires_shipping      boolean NOT NULL DEFAULT true,
  taxable                boolean NOT NULL DEFAULT true,
  position               integer NOT NULL DEFAULT 1,
  shopify_updated_at     timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT product_variants_product_id_fkey FOREIGN KEY (product_id)
    REFERENCES products (id) ON DELETE CASCADE,
  CONSTRAINT product_variants_shopify_variant_id_key UNIQUE (shopify_variant_id),
  CONSTRAINT product_variants_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT product_variants_selected_options_is_object CHECK (jsonb_typeof(selected_options) = 'object'),
  CONSTRAINT product_variants_price_cents_non_negative CHECK (price_cents >= 0),
  CONSTRAINT product_variants_compare_at_price_cents_non_negative CHECK (compare_at_price_cents >= 0),
  CONSTRAINT product_variants_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT product_variants_weight_grams_non_negative CHECK (weight_grams >= 0)
);

CREATE INDEX product_variants_product_id_position_idx ON product_variants (product_id, position);
-- Not unique: Shopify does not enforce unique SKUs.
CREATE INDEX product_variants_sku_idx ON product_variants (sku) WHERE sku IS NOT NULL;

CREATE TRIGGER product_variants_set_updated_at
  BEFORE UPDATE ON product_variants
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE product_variants IS 'Variants of products (size, colour, ...): what is actually sold, with price and inventory.';
COMMENT ON COLUMN product_variants.selected_options IS 'Option values of the variant, e.g. {"Size": "M", "Color": "Black"}.';
COMMENT ON COLUMN product_variants.inventory_quantity IS 'Available quantity as Shopify reports it (may be negative when overselling is allowed); NULL when untracked.';
