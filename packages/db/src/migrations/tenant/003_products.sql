-- Creates the product_status enum and products (the product catalog, synced from Shopify).

CREATE TYPE product_status AS ENUM ('active', 'draft', 'archived');

CREATE TABLE products (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  shopify_product_id text,
  handle             text NOT NULL,
  title              text NOT NULL,
  description_html   text,
  vendor             text,
  product_type       text,
  status             product_status NOT NULL DEFAULT 'draft',
  tags               text[] NOT NULL DEFAULT '{}',
  featured_image_url text,
  published_at       timestamptz,
  shopify_updated_at timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT products_shopify_product_id_key UNIQUE (shopify_product_id),
  CONSTRAINT products_handle_key UNIQUE (handle),
  CONSTRAINT products_handle_format CHECK (handle <> '' AND handle !~ '[[:space:]/]'),
  CONSTRAINT products_title_not_blank CHECK (btrim(title) <> '')
);

CREATE INDEX products_status_idx ON products (status);
CREATE INDEX products_created_at_idx ON products (created_at);

CREATE TRIGGER products_set_updated_at
  BEFORE UPDATE ON products
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE products IS 'Product catalog of this tenant''s store, synced from Shopify; prices live on product_variants.';
COMMENT ON COLUMN products.handle IS 'Shopify handle (URL slug), unique in the store.';
