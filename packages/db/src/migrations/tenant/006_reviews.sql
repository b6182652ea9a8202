-- Creates the review_status enum and reviews (customer reviews of products).

CREATE TYPE review_status AS ENUM ('pending', 'approved', 'rejected', 'spam');

CREATE TABLE reviews (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  product_id        uuid NOT NULL,
  customer_id       uuid,
  order_id          uuid,
  rating            smallint NOT NULL,
  title             text,
  body              text,
  author_name       text NOT NULL,
  author_email      text,
  status            review_status NOT NULL DEFAULT 'pending',
  verified_purchase boolean NOT NULL DEFAULT false,
  helpful_count     integer NOT NULL DEFAULT 0,
  source            text NOT NULL DEFAULT 'native',
  external_id       text,
  reply_body        text,
  replied_at        timestamptz,
  published_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reviews_product_id_fkey FOREIGN KEY (product_id)
    REFERENCES products (id) ON DELETE CASCADE,
  CONSTRAINT reviews_customer_id_fkey FOREIGN KEY (customer_id)
    REFERENCES customers (id) ON DELETE SET NULL,
  CONSTRAINT reviews_order_id_fkey FOREIGN KEY (order_id)
    REFERENCES orders (id) ON DELETE SET NULL,
  CONSTRAINT reviews_rating_range CHECK (rating BETWEEN 1 AND 5),
  CONSTRAINT reviews_author_name_not_blank CHECK (btrim(author_name) <> ''),
  CONSTRAINT reviews_author_email_format CHECK (author_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT reviews_helpful_count_non_negative CHECK (helpful_count >= 0),
  CONSTRAINT reviews_source_format CHECK (source ~ '^[a-z][a-z0-9_]*$')
);

-- Imported reviews (e.g. source 'yotpo', 'judgeme') are recorded once per source.
CREATE UNIQUE INDEX reviews_source_external_id_key ON reviews (source, external_id) WHERE external_id IS NOT NULL;
-- A product page lists its approved reviews, newest first.
CREATE INDEX reviews_product_id_status_created_at_idx ON reviews (product_id, status, created_at);
CREATE INDEX reviews_customer_id_idx ON reviews (customer_id);
CREATE INDEX reviews_order_id_idx ON reviews (order_id);
CREATE INDEX reviews_status_idx ON reviews (status);
CREATE INDEX reviews_created_at_idx ON reviews (created_at);

CREATE TRIGGER reviews_set_updated_at
  BEFORE UPDATE ON reviews
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE reviews IS 'Product reviews, moderated (status) before they are shown.';
COMMENT ON COLUMN reviews.source IS 'Where the review came from: native, or the review app it was imported from.';
COMMENT ON COLUMN reviews.external_id IS 'Id of the review in its source system, for idempotent imports.';
