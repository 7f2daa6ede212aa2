-- Programmes (services/points/src/programmes, docs/points.md "Programmes"): one per operator, the
-- rules its accounts, lots and earnings follow. Ranges are the proto's (points.proto Programme),
-- checked by the request validation and again here.
CREATE TABLE programmes (
  operator_id          text        PRIMARY KEY,
  -- money value of one point: what the issuer owes per point redeemed
  point_value_currency text        NOT NULL CHECK (point_value_currency ~ '^[A-Z]{3}$'),
  point_value_minor    bigint      NOT NULL CHECK (point_value_minor > 0),
  lot_lifetime_days    integer     NOT NULL CHECK (lot_lifetime_days BETWEEN 1 AND 3650),
  refund_window_hours  integer     NOT NULL CHECK (refund_window_hours BETWEEN 0 AND 2160),
  shortfall_policy     text        NOT NULL CHECK (shortfall_policy IN ('DEBT', 'FORGIVE')),
  expiry_notice_days   integer     NOT NULL CHECK (expiry_notice_days BETWEEN 0 AND 90),
  -- [{"name": "...", "threshold": "<int64 as text>", "multiplier_permille": n}, ...] by rising threshold
  tiers                jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tiers) = 'array'),
  tier_window_days     integer     NOT NULL CHECK (tier_window_days BETWEEN 1 AND 730),
  updated_by           text        NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
