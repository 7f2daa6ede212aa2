-- The community promotion board (services/marketing/src/promotions, docs/marketing.md "Promotion
-- board"): merchants' promotions, one review per target project, cross-promotion placements, and
-- interactions counted once each, rolled up into promotion_stats in the same statement.
CREATE TABLE promotions (
  promotion_id uuid        PRIMARY KEY,
  -- the submitting merchant's tenancy
  operator_id  text        NOT NULL,
  project_id   text        NOT NULL DEFAULT '',
  merchant_id  text        NOT NULL CHECK (merchant_id <> ''),
  title        text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 80),
  body         text        NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
  image_refs   text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(image_refs) <= 9),
  campaign_id  text        NOT NULL DEFAULT '',
  valid_from   timestamptz NOT NULL,
  valid_until  timestamptz NOT NULL,
  submitted_by text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (valid_from < valid_until)
);
CREATE INDEX promotions_by_merchant ON promotions (operator_id, merchant_id, created_at DESC, promotion_id DESC);

-- One review per target project; it ends once (PENDING > APPROVED | REJECTED).
CREATE TABLE promotion_reviews (
  promotion_id uuid        NOT NULL REFERENCES promotions,
  project_id   text        NOT NULL,
  status       text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
  reason       text        NOT NULL DEFAULT '' CHECK (char_length(reason) <= 200),
  reviewer     text        NOT NULL DEFAULT '',
  reviewed_at  timestamptz,
  PRIMARY KEY (promotion_id, project_id),
  CHECK ((status = 'REJECTED') = (reason <> '')),
  CHECK ((status = 'PENDING') = (reviewed_at IS NULL))
);
CREATE INDEX promotion_reviews_by_project ON promotion_reviews (project_id, status);

-- A promotion in a scenario app's slot of a host project (cross-promotion).
CREATE TABLE placements (
  placement_id uuid        PRIMARY KEY,
  operator_id  text        NOT NULL,
  project_id   text        NOT NULL CHECK (project_id <> ''),
  slot         text        NOT NULL CHECK (char_length(slot) BETWEEN 1 AND 40),
  promotion_id uuid        NOT NULL REFERENCES promotions,
  valid_from   timestamptz NOT NULL,
  valid_until  timestamptz NOT NULL,
  created_by   text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (valid_from < valid_until)
);

-- Each reported interaction once (the reporting app's id); counted into promotion_stats by the
-- statement that inserts it, so a duplicate (ON CONFLICT DO NOTHING) is never counted.
CREATE TABLE interactions (
  interaction_id text        PRIMARY KEY,
  promotion_id   uuid        NOT NULL REFERENCES promotions,
  placement_id   text        NOT NULL DEFAULT '',
  project_id     text        NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('IMPRESSION', 'CLICK')),
  occurred_at    timestamptz NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE promotion_stats (
  promotion_id uuid   NOT NULL REFERENCES promotions,
  project_id   text   NOT NULL,
  placement_id text   NOT NULL DEFAULT '',
  impressions  bigint NOT NULL DEFAULT 0 CHECK (impressions >= 0),
  clicks       bigint NOT NULL DEFAULT 0 CHECK (clicks >= 0),
  PRIMARY KEY (promotion_id, project_id, placement_id)
);
