-- Earning (services/points/src/earning, docs/points.md "Earning"): the operators' earning rules, and
-- one row per payment earned on (or refused, with the reason), which refunds take back from.

-- One rule per (operator, project, scenario); project '' is the operator's rule, a project's wins.
--   scenario  citybase.payment.v1.PaymentScenario
CREATE TABLE earning_rules (
  rule_id         uuid        PRIMARY KEY,
  operator_id     text        NOT NULL,
  project_id      text        NOT NULL DEFAULT '',
  scenario        smallint    NOT NULL CHECK (scenario > 0),
  -- points per yuan (100 minor units) paid; 0 turns the rule off
  points_per_yuan integer     NOT NULL CHECK (points_per_yuan BETWEEN 0 AND 10000),
  -- at most this many points per holder per city day (UTC+8) under the rule; 0: no cap
  daily_cap       bigint      NOT NULL CHECK (daily_cap >= 0),
  updated_by      text        NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (operator_id, project_id, scenario)
);

-- One row per PaymentSucceeded (payment id unique: a payment earns once). A payment that earned
-- nothing (no rule, no programme, no or an exhausted budget, the daily cap) has its reason and no
-- lot, and is never tried again.
--   points     what the payment earned (after the tier and the daily cap): the lot's amount plus
--              the debt it paid off
--   reversed   what refunds asked back so far (taken from lots, or recorded as debt, or forgiven);
--              never more than points
CREATE TABLE earnings (
  payment_id    text        PRIMARY KEY,
  operator_id   text        NOT NULL,
  project_id    text        NOT NULL DEFAULT '',
  holder_id     text        NOT NULL,
  account_id    uuid        REFERENCES accounts,
  rule_id       uuid        REFERENCES earning_rules,
  scenario      smallint    NOT NULL,
  paid_minor    bigint      NOT NULL CHECK (paid_minor >= 0),
  paid_currency text        NOT NULL,
  paid_at       timestamptz NOT NULL,
  -- the city day (UTC+8) the daily cap counts in
  city_day      date        NOT NULL,
  points        bigint      NOT NULL DEFAULT 0 CHECK (points >= 0),
  debt_repaid   bigint      NOT NULL DEFAULT 0 CHECK (debt_repaid >= 0 AND debt_repaid <= points),
  lot_id        uuid        REFERENCES lots,
  reversed      bigint      NOT NULL DEFAULT 0 CHECK (reversed >= 0 AND reversed <= points),
  -- '' when it earned; else why not (NO_RULE, RULE_OFF, NO_PROGRAMME, BUDGET_NOT_SET, ...)
  reason        text        NOT NULL DEFAULT '',
  event_id      text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((lot_id IS NULL) = (points - debt_repaid = 0))
);

-- The daily cap: what a holder earned under a rule on a city day.
CREATE INDEX earnings_daily ON earnings (account_id, rule_id, city_day);

-- The release job: pending lots by the time they become available.
CREATE INDEX lots_pending_release ON lots (available_at) WHERE status = 1;
