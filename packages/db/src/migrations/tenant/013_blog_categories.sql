-- Creates blog_categories (categories of the blog) and blog_post_categories (which posts are in which categories).

CREATE TABLE blog_categories (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL,
  name        text NOT NULL,
  description text,
  parent_id   uuid,
  position    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT blog_categories_parent_id_fkey FOREIGN KEY (parent_id)
    REFERENCES blog_categories (id) ON DELETE SET NULL,
  CONSTRAINT blog_categories_slug_key UNIQUE (slug),
  CONSTRAINT blog_categories_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  CONSTRAINT blog_categories_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT blog_categories_not_own_parent CHECK (parent_id <> id)
);

CREATE INDEX blog_categories_parent_id_idx ON blog_categories (parent_id);

CREATE TRIGGER blog_categories_set_updated_at
  BEFORE UPDATE ON blog_categories
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE blog_post_categories (
  blog_post_id     uuid NOT NULL,
  blog_category_id uuid NOT NULL,
  position         integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT blog_post_categories_pkey PRIMARY KEY (blog_post_id, blog_category_id),
  CONSTRAINT blog_post_categories_blog_post_id_fkey FOREIGN KEY (blog_post_id)
    REFERENCES blog_posts (id) ON DELETE CASCADE,
  CONSTRAINT blog_post_categories_blog_category_id_fkey FOREIGN KEY (blog_category_id)
    REFERENCES blog_categories (id) ON DELETE CASCADE
);

-- Listing a category's posts (the primary key serves a post's categories).
CREATE INDEX blog_post_categories_blog_category_id_idx ON blog_post_categories (blog_category_id);

CREATE TRIGGER blog_post_categories_set_updated_at
  BEFORE UPDATE ON blog_post_categories
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE blog_categories IS 'Categories of the blog, optionally nested (parent_id).';
COMMENT ON TABLE blog_post_categories IS 'Membership of blog posts in categories (many to many).';
