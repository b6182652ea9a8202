-- Creates the review_media_type enum and review_media (photos and videos attached to reviews).

CREATE TYPE review_media_type AS ENUM ('image', 'video');

CREATE TABLE review_media (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  review_id     uuid NOT NULL,
  type          review_media_type NOT NULL,
  url           text NOT NULL,
  thumbnail_url text,
  alt_text      text,
  width         integer,
  height        integer,
  position      integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT review_media_review_id_fkey FOREIGN KEY (review_id)
    REFERENCES reviews (id) ON DELETE CASCADE,
  CONSTRAINT review_media_url_format CHECK (url ~ '^https?://'),
  CONSTRAINT review_media_thumbnail_url_format CHECK (thumbnail_url ~ '^https?://'),
  CONSTRAINT review_media_dimensions_positive CHECK (width > 0 AND height > 0),
  CONSTRAINT review_media_position_non_negative CHECK (position >= 0)
);

CREATE INDEX review_media_review_id_position_idx ON review_media (review_id, position);

CREATE TRIGGER review_media_set_updated_at
  BEFORE UPDATE ON review_media
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE review_media IS 'Photos and videos attached to reviews, in display order (position).';
