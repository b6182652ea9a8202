-- Creates order_line_items (the lines of orders: which product variant, how many, at what price).

CREATE TABLE order_line_items (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id             uuid NOT NULL,
  product_id           uuid,
  variant_id           uuid,
  shopify_line_item_id text,
  sku                  text,
  title                text NOT NULL,
  variant_title        text,
  quantity             integer NOT NULL,
  refunded_quantity    integer NOT NULL DEFAULT 0,
  unit_price_cents     bigint NOT NULL,
  discount_cents       bigint NOT NULL DEFAULT 0,
  tax_cents            bigint NOT NULL DEFAULT 0,
  total_cents          bigint NOT NULL,
  currency             char(3) NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT order_line_items_order_id_fkey FOREIGN KEY (order_id)
    REFERENCES orders (id) ON DELETE CASCADE,
  -- The line keeps its title, sku and prices when the product or variant is deleted.
  CONSTRAINT order_line_items_product_id_fkey FOREIGN KEY (product_id)
    REFERENCES products (id) ON DELETE SET NULL,
  CONSTRAINT order_line_items_variant_id_fkey FOREIGN KEY (variant_id)
    REFERENCES product_variants (id) ON DELETE SET NULL,
  CONSTRAINT order_line_items_shopify_line_item_id_key UNIQUE (shopify_line_item_id),
  CONSTRAINT order_line_items_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT order_line_items_quantity_non_negative CHECK (quantity >= 0),
  CONSTRAINT order_line_items_refunded_quantity_range CHECK (refunded_quantity BETWEEN 0 AND quantity),
  CONSTRAINT order_line_items_amounts_non_negative CHECK (
    unit_price_cents >= 0 AND discount_cents >= 0 AND tax_cents >= 0 AND total_cents >= 0
  ),
  CONSTRAINT order_line_items_currency_iso CHECK (currency ~ '^[A-Z]{3}$')
);

CREATE INDEX order_line_items_order_id_idx ON order_line_items (order_id);
CREATE INDEX order_line_items_product_id_idx ON order_line_items (product_id);
CREATE INDEX order_line_items_variant_id_idx ON order_line_items (variant_id);

CREATE TRIGGER order_line_items_set_updated_at
  BEFORE UPDATE ON order_line_items
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE order_line_items IS 'Lines of orders, with a snapshot of title, sku and prices at the time of the order.';
COMMENT ON COLUMN order_line_items.total_cents IS 'Line total after discounts: quantity * unit_price_cents - discount_cents (tax as Shopify reports it).';
