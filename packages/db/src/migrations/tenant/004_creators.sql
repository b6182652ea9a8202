-- Creates the creator_status enum and creators (members of the brand's creator/affiliate programme).

CREATE TYPE creator_status AS ENUM ('pending', 'active', 'paused', 'rejected', 'terminated');

CREATE TABLE creators (
  id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id               uuid,
  email                     text NOT NULL,
  display_name              text NOT NULL,
  handle                    text,
  status                    creator_status NOT NULL DEFAULT 'pending',
  commission_rate_bps       integer NOT NULL DEFAULT 1000,
  social_profiles           jsonb NOT NULL DEFAULT '{}'::jsonb,
  stripe_connect_account_id text,
  approved_at               timestamptz,
  notes                     text,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT creators_customer_id_fkey FOREIGN KEY (customer_id)
    REFERENCES customers (id) ON DELETE SET NULL,
  CONSTRAINT creators_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT creators_display_name_not_blank CHECK (btrim(display_name) <> ''),
  CONSTRAINT creators_handle_format CHECK (handle ~ '^[a-z0-9][a-z0-9_-]*$'),
  CONSTRAINT creators_commission_rate_bps_range CHECK (commission_rate_bps BETWEEN 0 AND 10000),
  CONSTRAINT creators_social_profiles_is_object CHECK (jsonb_typeof(social_profiles) = 'object'),
  CONSTRAINT creators_stripe_connect_account_id_format CHECK (stripe_connect_account_id ~ '^acct_[A-Za-z0-9]+$')
);

CREATE UNIQUE INDEX creators_lower_email_key ON creators (lower(email));
CREATE UNIQUE INDEX creators_handle_key ON creators (handle) WHERE handle IS NOT NULL;
CREATE UNIQUE INDEX creators_stripe_connect_account_id_key
  ON creators (stripe_connect_account_id) WHERE stripe_connect_account_id IS NOT NULL;
CREATE INDEX creators_customer_id_idx ON creators (customer_id);
CREATE INDEX creators_status_idx ON creators (status);
CREATE INDEX creators_created_at_idx ON creators (created_at);

CREATE TRIGGER creators_set_updated_at
  BEFORE UPDATE ON creators
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

COMMENT ON TABLE creators IS 'Creators (affiliates, ambassadors) in the brand''s programme; one per e-mail address.';
COMMENT ON COLUMN creators.handle IS 'Handle used in referral links and on the creator''s page, lower case.';
COMMENT ON COLUMN creators.commission_rate_bps IS 'Default commission rate in basis points (1000 = 10%).';
COMMENT ON COLUMN creators.social_profiles IS 'Social accounts, e.g. {"instagram": "name", "tiktok": "name"}.';
