-- Campaigns, codes and coupons (services/marketing/src/campaigns, codes, coupons; docs/marketing.md
-- "Model" and rule 1). PostgreSQL is the truth: a campaign's totals and a holder's counters change
-- by conditional UPDATEs refused by the CHECKs below, in the transaction of the coupon row that
-- explains them; never read-then-write. Ranges are the proto's (marketing.proto Campaign), checked
-- by the request validation and again here. Money is bigint minor units in the campaign's currency.

-- One campaign of an operator (narrowed to a project and/or merchant when those are set).
--   discount_kind      AMOUNT_OFF | PERCENT_OFF | THRESHOLD | FREE_ITEM; only that kind's columns set
--   coupon_max_value   what one coupon can take off at most (its charge to the money budget):
--                      the amount, the percentage's cap (0 without cap), the threshold's save, the
--                      free item's value
--   claimed            coupons claimed (every coupon row of the campaign); the count budget
--   claimed_value      Σ max_value of the campaign's coupons not EXPIRED; the money budget
--   gate_epoch         the flash-sale Redis counters' generation (rule 2): raised to drop them
CREATE TABLE campaigns (
  campaign_id            uuid        PRIMARY KEY,
  operator_id            text        NOT NULL CHECK (operator_id <> ''),
  project_id             text        NOT NULL DEFAULT '',
  merchant_id            text        NOT NULL DEFAULT '',
  name                   text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
  status                 text        NOT NULL CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'ENDED')),
  currency               text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  discount_kind          text        NOT NULL CHECK (discount_kind IN ('AMOUNT_OFF', 'PERCENT_OFF', 'THRESHOLD', 'FREE_ITEM')),
  amount_off_minor       bigint      CHECK (amount_off_minor > 0),
  percent_basis_points   integer     CHECK (percent_basis_points BETWEEN 1 AND 10000),
  -- NULL: no cap
  percent_cap_minor      bigint      CHECK (percent_cap_minor > 0),
  threshold_spend_minor  bigint      CHECK (threshold_spend_minor > 0),
  threshold_save_minor   bigint      CHECK (threshold_save_minor > 0),
  free_item_code         text        CHECK (char_length(free_item_code) BETWEEN 1 AND 64),
  free_item_value_minor  bigint      CHECK (free_item_value_minor > 0),
  coupon_max_value       bigint      NOT NULL CHECK (coupon_max_value >= 0),
  funding                text        NOT NULL CHECK (funding IN ('PLATFORM', 'OPERATOR', 'MERCHANT')),
  -- targeting: an empty array is no restriction; scenarios are citybase.payment.v1.PaymentScenario
  target_project_ids     text[]      NOT NULL DEFAULT '{}',
  target_merchant_ids    text[]      NOT NULL DEFAULT '{}',
  target_scenarios       smallint[]  NOT NULL DEFAULT '{}',
  target_tiers           text[]      NOT NULL DEFAULT '{}',
  stacking_exclusive     boolean     NOT NULL DEFAULT false,
  -- '' is the campaign's own group
  stacking_group         text        NOT NULL DEFAULT '' CHECK (char_length(stacking_group) <= 40),
  stacking_priority      integer     NOT NULL DEFAULT 0,
  claim_from             timestamptz NOT NULL,
  claim_until            timestamptz NOT NULL,
  coupon_valid_days      integer     NOT NULL CHECK (coupon_valid_days BETWEEN 1 AND 365),
  -- NULL: coupons are valid coupon_valid_days from their claim
  use_until              timestamptz,
  max_coupons            bigint      NOT NULL CHECK (max_coupons > 0),
  -- NULL: no money budget
  max_spend              bigint      CHECK (max_spend >= 0),
  -- 0: no limit
  per_user_limit         integer     NOT NULL DEFAULT 0 CHECK (per_user_limit >= 0),
  per_household_limit    integer     NOT NULL DEFAULT 0 CHECK (per_household_limit >= 0),
  per_user_daily_limit   integer     NOT NULL DEFAULT 0 CHECK (per_user_daily_limit >= 0),
  flash_sale             boolean     NOT NULL DEFAULT false,
  -- NULL: none; unique within the operator
  generic_code           text        CHECK (generic_code ~ '^[A-Z0-9]{4,32}$'),
  gate_epoch             bigint      NOT NULL DEFAULT 1 CHECK (gate_epoch > 0),
  claimed                bigint      NOT NULL DEFAULT 0 CHECK (claimed >= 0),
  claimed_value          bigint      NOT NULL DEFAULT 0 CHECK (claimed_value >= 0),
  redeemed               bigint      NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
  redeemed_discount      bigint      NOT NULL DEFAULT 0 CHECK (redeemed_discount >= 0),
  created_by             text        NOT NULL DEFAULT '',
  updated_by             text        NOT NULL DEFAULT '',
  created_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT campaigns_within_count_budget CHECK (claimed <= max_coupons),
  CONSTRAINT campaigns_within_money_budget CHECK (max_spend IS NULL OR claimed_value <= max_spend),
  CONSTRAINT campaigns_redeemed_claimed CHECK (redeemed <= claimed),
  CONSTRAINT campaigns_window CHECK (claim_from < claim_until),
  CONSTRAINT campaigns_merchant_funding CHECK (funding <> 'MERCHANT' OR merchant_id <> ''),
  CONSTRAINT campaigns_discount_shape CHECK (
    (discount_kind = 'AMOUNT_OFF' AND amount_off_minor IS NOT NULL)
    OR (discount_kind = 'PERCENT_OFF' AND percent_basis_points IS NOT NULL)
    OR (discount_kind = 'THRESHOLD' AND threshold_spend_minor IS NOT NULL AND threshold_save_minor IS NOT NULL)
    OR (discount_kind = 'FREE_ITEM' AND free_item_code IS NOT NULL AND free_item_value_minor IS NOT NULL)
  )
);

CREATE UNIQUE INDEX campaigns_generic_code ON campaigns (operator_id, generic_code) WHERE generic_code IS NOT NULL;
-- ListCampaigns: an operator's campaigns, newest first (created_at, campaign_id is the page token).
CREATE INDEX campaigns_by_operator ON campaigns (operator_id, created_at DESC, campaign_id DESC);

-- A holder's claims of a campaign, one row per (scope, key):
--   USER       key = user id
--   HOUSEHOLD  key = household id
--   USER_DAY   key = city day (YYYY-MM-DD, UTC+8) || ':' || user id
-- Incremented by INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit in the
-- claim's transaction (no row back: the limit is reached).
CREATE TABLE claim_counters (
  campaign_id uuid        NOT NULL REFERENCES campaigns,
  scope       text        NOT NULL CHECK (scope IN ('USER', 'HOUSEHOLD', 'USER_DAY')),
  key         text        NOT NULL CHECK (key <> ''),
  count       integer     NOT NULL CHECK (count >= 0),
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (campaign_id, scope, key)
);

-- A GenerateCodes request: a job generating `requested` unique codes, `generated` so far.
CREATE TABLE code_batches (
  batch_id     uuid        PRIMARY KEY,
  campaign_id  uuid        NOT NULL REFERENCES campaigns,
  requested    integer     NOT NULL CHECK (requested BETWEEN 1 AND 100000),
  generated    integer     NOT NULL DEFAULT 0 CHECK (generated >= 0 AND generated <= requested),
  status       text        NOT NULL CHECK (status IN ('RUNNING', 'DONE')),
  created_by   text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at  timestamptz,
  CHECK ((status = 'DONE') = (finished_at IS NOT NULL))
);

CREATE INDEX code_batches_by_campaign ON code_batches (campaign_id);
CREATE INDEX code_batches_running ON code_batches (created_at) WHERE status = 'RUNNING';

-- Unique codes: 16 characters of Crockford base32 (80 random bits). coupon_id is set once, by the
-- claim that used the code (a code claims once).
CREATE TABLE codes (
  code         text        PRIMARY KEY CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{16}$'),
  batch_id     uuid        NOT NULL REFERENCES code_batches,
  campaign_id  uuid        NOT NULL REFERENCES campaigns,
  coupon_id    uuid        UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ExportCodes: a batch's codes in pages by code.
CREATE INDEX codes_by_batch ON codes (batch_id, code);

-- A claimed coupon. The campaign's tenancy is the coupon's. Every coupon row counts in its
-- campaign's `claimed` and in the counters its claim incremented (user, household if set, the user's
-- claim_day); its max_value counts in `claimed_value` until it is EXPIRED.
CREATE TABLE coupons (
  coupon_id     uuid        PRIMARY KEY,
  campaign_id   uuid        NOT NULL REFERENCES campaigns,
  operator_id   text        NOT NULL,
  user_id       text        NOT NULL CHECK (user_id <> ''),
  household_id  text        NOT NULL DEFAULT '',
  status        text        NOT NULL CHECK (status IN ('AVAILABLE', 'RESERVED', 'REDEEMED', 'EXPIRED')),
  max_value     bigint      NOT NULL CHECK (max_value >= 0),
  currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- the unique or generic code it was claimed with; '' for a claim by campaign id
  code          text        NOT NULL DEFAULT '',
  -- the city day (UTC+8) of the claim: the USER_DAY counter it counted in
  claim_day     date        NOT NULL,
  claimed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (expires_at > claimed_at)
);

-- ListCoupons: a holder's coupons of an operator.
CREATE INDEX coupons_by_holder ON coupons (operator_id, user_id, claimed_at DESC, coupon_id DESC);
CREATE INDEX coupons_by_campaign ON coupons (campaign_id);
-- The expiry job: AVAILABLE coupons by their expiry.
CREATE INDEX coupons_available_expiry ON coupons (expires_at) WHERE status = 'AVAILABLE';

-- Marketing's projection of points' tiers (consumer marketing.tiers of TierChanged): a holder
-- without a row is in the programme's first tier. occurred_at orders the events (an older one is
-- ignored).
CREATE TABLE holder_tiers (
  operator_id  text        NOT NULL,
  holder_id    text        NOT NULL,
  tier         text        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (operator_id, holder_id)
);
