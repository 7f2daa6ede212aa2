-- Checkouts (services/payment/src/checkouts, docs/payment-checkout.md): money + points + coupon in
-- one saga. The row is written first, then every step's outcome is persisted before the next
-- (step, the reservation ids, the computed parts), so the recovery job can drive an unfinished
-- saga forward or back after a crash.
CREATE TABLE checkouts (
  checkout_id           uuid        PRIMARY KEY,
  operator_id           text        NOT NULL,
  project_id            text        NOT NULL,
  merchant_id           text        NOT NULL,
  scenario              int         NOT NULL,
  user_id               text        NOT NULL,
  points_holder_id      text        NOT NULL,
  currency              text        NOT NULL,
  total_minor           bigint      NOT NULL CHECK (total_minor > 0),
  item_codes            text[]      NOT NULL DEFAULT '{}',
  coupon_id             text        NOT NULL DEFAULT '',
  coupon_code           text        NOT NULL DEFAULT '',
  points                bigint      NOT NULL DEFAULT 0 CHECK (points >= 0),
  payer_ref             text        NOT NULL,
  description           text        NOT NULL DEFAULT '',
  expires_in_seconds    int         NOT NULL,
  -- lifetime asked of the coupon and points reservations (> the payment's expiry + margin)
  reservation_ttl_seconds int       NOT NULL,
  profit_sharing        boolean     NOT NULL DEFAULT false,
  status                text        NOT NULL DEFAULT 'PENDING'
                        CHECK (status IN ('PENDING', 'AWAITING_PAYMENT', 'COMPLETED', 'RELEASED')),
  -- the saga's next step (checkouts.transitions.ts)
  step                  text        NOT NULL,
  coupon_redemption_id  text        NOT NULL DEFAULT '',
  discount_minor        bigint      NOT NULL DEFAULT 0,
  points_reservation_id text        NOT NULL DEFAULT '',
  point_value_minor     bigint      NOT NULL DEFAULT 0,
  points_value_minor    bigint      NOT NULL DEFAULT 0,
  money_minor           bigint      NOT NULL DEFAULT 0,
  payment_id            uuid        UNIQUE,
  coupon_confirmed      boolean     NOT NULL DEFAULT false,
  points_confirmed      boolean     NOT NULL DEFAULT false,
  coupon_cancelled      boolean     NOT NULL DEFAULT false,
  points_cancelled      boolean     NOT NULL DEFAULT false,
  release_reason        text        NOT NULL DEFAULT '',
  -- the step the saga was at when it turned to RELEASE: what may have been reserved
  release_from          text        NOT NULL DEFAULT '',
  -- a refusal while creating (a callee's or a rule's), answered again to a retry of CreateCheckout
  refusal_kind          text        NOT NULL DEFAULT '',
  refusal_code          text        NOT NULL DEFAULT '',
  refusal_field         text        NOT NULL DEFAULT '',
  refusal_message       text        NOT NULL DEFAULT '',
  -- refunds (succeeded, and reserved by processing ones: the cap counts both)
  refunded_total_minor        bigint NOT NULL DEFAULT 0,
  refunded_discount_minor     bigint NOT NULL DEFAULT 0,
  refunded_points             bigint NOT NULL DEFAULT 0,
  refunded_points_value_minor bigint NOT NULL DEFAULT 0,
  refunded_money_minor        bigint NOT NULL DEFAULT 0,
  committed_refund_minor      bigint NOT NULL DEFAULT 0,
  expires_at            timestamptz NOT NULL,
  completed_at          timestamptz,
  -- the recovery job: due when next_attempt_at has passed and no replica holds the lease
  next_attempt_at       timestamptz,
  lease_until           timestamptz,
  attempts              int         NOT NULL DEFAULT 0,
  last_error            text        NOT NULL DEFAULT '',
  version               int         NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX checkouts_operator_created ON checkouts (operator_id, created_at DESC, checkout_id DESC);
CREATE INDEX checkouts_due ON checkouts (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX checkouts_completed ON checkouts (completed_at) WHERE status = 'COMPLETED';

-- Refunds of a completed checkout: the parts the refund rule gives back, the money part's payment
-- refund, and CheckoutRefunded once that succeeded (at once without a money part).
CREATE TABLE checkout_refunds (
  checkout_refund_id    uuid        PRIMARY KEY,
  checkout_id           uuid        NOT NULL REFERENCES checkouts (checkout_id),
  status                text        NOT NULL CHECK (status IN ('PROCESSING', 'SUCCEEDED', 'FAILED')),
  total_minor           bigint      NOT NULL CHECK (total_minor > 0),
  discount_minor        bigint      NOT NULL,
  points                bigint      NOT NULL,
  points_value_minor    bigint      NOT NULL,
  money_minor           bigint      NOT NULL,
  coupon_restored       boolean     NOT NULL,
  payment_refund_id     uuid        UNIQUE,
  reason                text        NOT NULL,
  failure_reason        text        NOT NULL DEFAULT '',
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at          timestamptz
);
CREATE INDEX checkout_refunds_checkout ON checkout_refunds (checkout_id, created_at);
CREATE INDEX checkout_refunds_completed ON checkout_refunds (completed_at) WHERE status = 'SUCCEEDED';
