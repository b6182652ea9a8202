-- Creates the blog_post_status enum and blog_posts (the brand's blog content).

CREATE TYPE blog_post_status AS ENUM ('draft', 'scheduled', 'published', 'archived');

CREATE TABLE blog_posts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug               text NOT NULL,
  title              text NOT NULL,
  excerpt            text,
  content            text NOT NULL DEFAULT '',
  author_name        text,
  author_creator_id  uuid,
  cover_image_url    text,
  tags               text[] NOT NULL DEFAULT '{}',
  seo_title          text,
  seo_description    text,
  status             blog_post_status NOT NULL DEFAULT 'draft',
  published_at       timestamptz,
  shopify_article_id text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT blog_posts_author_creator_id_fkey FOREIGN KEY (author_creator_id)
    REFERENCES creators (id) ON DELETE SET NULL,
  CONSTRAINT blog_posts_slug_key UNIQUE (slug),
  CONSTRAINT blog_posts_shopify_article_id_key UNIQUE (shopify_article_id),
  CONSTRAINT blog_posts_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  CONSTRAINT blog_posts_title_not_blank CHECK (btrim(title) <> ''),
  -- A published or scheduled post says when it (is to) appear.
  CONSTRAINT blog_posts_published_at_required CHECK (
    status NOT IN ('published', 'scheduled') OR published_at IS NOT NULL
  )
);

CREATE INDEX blog_posts_status_published_at_idx ON blog_posts (status, published_at);
CREATE INDEX blog_posts_author_creator_id_idx ON blog_posts (author_creator_id);
CREATE INDEX blog_posts_created_at_idx ON blog_posts (created_at);

CREATE TRIGGER blog_posts_set_updated_at
  BEFORE UPDATE ON blog_posts
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE blog_posts IS 'Blog posts of the brand (optionally written by a creator, optionally synced with a Shopify blog article).';
COMMENT ON COLUMN blog_posts.published_at IS 'When the post was or will be published; required for published and scheduled posts.';
