-- Creates the tenant's own set_updated_at() trigger function, the order status enums and orders (orders synced from Shopify).

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS
  'BEFORE UPDATE row trigger: sets NEW.updated_at to now() (the transaction start time). This tenant''s own copy: a tenant schema depends on nothing outside itself.';

CREATE TYPE order_status AS ENUM ('pending', 'open', 'closed', 'cancelled');
CREATE TYPE order_financial_status AS ENUM (
  'pending', 'authorized', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'voided', 'expired'
);
CREATE TYPE order_fulfillment_status AS ENUM (
  'unfulfilled', 'partially_fulfilled', 'fulfilled', 'on_hold', 'restocked'
);

CREATE TABLE orders (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  shopify_order_id   text,
  order_number       text,
  customer_id        uuid,
  email              text,
  status             order_status NOT NULL DEFAULT 'pending',
  financial_status   order_financial_status NOT NULL DEFAULT 'pending',
  fulfillment_status order_fulfillment_status NOT NULL DEFAULT 'unfulfilled',
  currency           char(3) NOT NULL,
  subtotal_cents     bigint NOT NULL DEFAULT 0,
  discount_cents     bigint NOT NULL DEFAULT 0,
  shipping_cents     bigint NOT NULL DEFAULT 0,
  tax_cents          bigint NOT NULL DEFAULT 0,
  total_cents        bigint NOT NULL DEFAULT 0,
  refunded_cents     bigint NOT NULL DEFAULT 0,
  discount_codes     text[] NOT NULL DEFAULT '{}',
  tags               text[] NOT NULL DEFAULT '{}',
  shipping_address   jsonb,
  billing_address    jsonb,
  note               text,
  placed_at          timestamptz,
  cancelled_at       timestamptz,
  closed_at          timestamptz,
  shopify_updated_at timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT orders_shopify_order_id_key UNIQUE (shopify_order_id),
  CONSTRAINT orders_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT orders_amounts_non_negative CHECK (
    subtotal_cents >= 0 AND discount_cents >= 0 AND shipping_cents >= 0 AND tax_cents >= 0
    AND total_cents >= 0 AND refunded_cents >= 0
  ),
  CONSTRAINT orders_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT orders_addresses_are_objects CHECK (
    jsonb_typeof(shipping_address) = 'object' AND jsonb_typeof(billing_address) = 'object'
  )
);

CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_status_idx ON orders (status);
CREATE INDEX orders_financial_status_idx ON orders (financial_status);
CREATE INDEX orders_fulfillment_status_idx ON orders (fulfillment_status);
CREATE INDEX orders_placed_at_idx ON orders (placed_at);
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_lower_email_idx ON orders (lower(email));
CREATE INDEX orders_order_number_idx ON orders (order_number);

CREATE TRIGGER orders_set_updated_at
  BEFORE UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE orders IS 'Orders of this tenant''s store, synced from Shopify. Money is in integer cents of currency.';
COMMENT ON COLUMN orders.shopify_order_id IS 'Shopify order id (numeric id or GID, as text); NULL for orders not from Shopify.';
COMMENT ON COLUMN orders.order_number IS 'Shopify order name as shown to customers, e.g. #1001.';
COMMENT ON COLUMN orders.discount_codes IS 'Discount codes applied to the order, as entered (snapshot).';
COMMENT ON COLUMN orders.placed_at IS 'When the customer placed the order (Shopify created_at); created_at is when this row was written.';
COMMENT ON COLUMN orders.shopify_updated_at IS 'Shopify updated_at of the last synced version: the sync skips older webhooks.';
