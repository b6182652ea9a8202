-- Creates the customer_state enum and customers (customer profiles synced from Shopify), and the orders.customer_id foreign key.

CREATE TYPE customer_state AS ENUM ('enabled', 'disabled', 'invited', 'declined');

CREATE TABLE customers (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  shopify_customer_id text,
  email               text,
  first_name          text,
  last_name           text,
  phone               text,
  state               customer_state NOT NULL DEFAULT 'enabled',
  accepts_marketing   boolean NOT NULL DEFAULT false,
  orders_count        integer NOT NULL DEFAULT 0,
  total_spent_cents   bigint NOT NULL DEFAULT 0,
  currency            char(3),
  tags                text[] NOT NULL DEFAULT '{}',
  default_address     jsonb,
  note                text,
  first_order_at      timestamptz,
  last_order_at       timestamptz,
  shopify_updated_at  timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customers_shopify_customer_id_key UNIQUE (shopify_customer_id),
  CONSTRAINT customers_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT customers_orders_count_non_negative CHECK (orders_count >= 0),
  CONSTRAINT customers_total_spent_cents_non_negative CHECK (total_spent_cents >= 0),
  CONSTRAINT customers_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT customers_total_spent_has_currency CHECK (total_spent_cents = 0 OR currency IS NOT NULL),
  CONSTRAINT customers_default_address_is_object CHECK (jsonb_typeof(default_address) = 'object')
);

-- Not unique: Shopify merges and guest checkouts can briefly hold one address on two profiles.
CREATE INDEX customers_lower_email_idx ON customers (lower(email));
CREATE INDEX customers_created_at_idx ON customers (created_at);
CREATE INDEX customers_last_order_at_idx ON customers (last_order_at);

CREATE TRIGGER customers_set_updated_at
  BEFORE UPDATE ON customers
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- orders (001) comes before customers: its foreign key is added here. Deleting a customer keeps the order.
ALTER TABLE orders
  ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id)
  REFERENCES customers (id) ON DELETE SET NULL;

COMMENT ON TABLE customers IS 'Customer profiles of this tenant''s store, synced from Shopify.';
COMMENT ON COLUMN customers.email IS 'Compared case-insensitively: query with lower(email) = lower($1).';
COMMENT ON COLUMN customers.total_spent_cents IS 'Lifetime spend in integer cents of currency (currency is required once this is non-zero).';
