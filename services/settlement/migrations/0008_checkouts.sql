-- Checkouts (docs/settlement-checkout.md): the escrow order of a checkout holds its full price,
-- money (PaymentSucceeded) + the coupon's discount (CouponRedeemed, from its funder's subsidy) +
-- the points' value (PointsRedeemed, from their issuers), whatever order the four events arrive in.
-- Each part's own event posts it to the place's MERCHANT_PAYABLE (as a redemption outside a
-- checkout does); once the checkout names the part and its order exists, one posting moves it
-- from that payable into the order's escrow (`checkout:<id>:escrow:<part>`).

-- The order of a checkout: order_id = the payment's id, or the checkout's own id when nothing was
-- paid in money (then the order starts at 0 and its parts make it).
ALTER TABLE escrow_orders
  ADD COLUMN checkout_id             uuid    UNIQUE,
  -- the coupon's discount and the points' value in paid_minor; money = paid - discount - points
  ADD COLUMN discount_minor          bigint  NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
  ADD COLUMN points_minor            bigint  NOT NULL DEFAULT 0 CHECK (points_minor >= 0),
  -- what refunds gave back of them (in refunded_minor)
  ADD COLUMN discount_refunded_minor bigint  NOT NULL DEFAULT 0,
  ADD COLUMN points_refunded_minor   bigint  NOT NULL DEFAULT 0,
  -- a checkout's order waiting for a part: it cannot complete (CompleteOrder, the auto-confirm job)
  ADD COLUMN parts_pending           boolean NOT NULL DEFAULT false,
  ALTER COLUMN escrow_tx_id DROP NOT NULL,
  DROP CONSTRAINT escrow_orders_paid_minor_check,
  ADD CONSTRAINT escrow_orders_paid CHECK (paid_minor > 0 OR (checkout_id IS NOT NULL AND paid_minor >= 0)),
  ADD CONSTRAINT escrow_orders_parts CHECK (
    discount_minor + points_minor <= paid_minor
    AND discount_refunded_minor BETWEEN 0 AND discount_minor
    AND points_refunded_minor BETWEEN 0 AND points_minor
    AND discount_refunded_minor + points_refunded_minor <= refunded_minor),
  ADD CONSTRAINT escrow_orders_parts_of_checkout CHECK (
    checkout_id IS NOT NULL OR (discount_minor = 0 AND points_minor = 0 AND NOT parts_pending));

ALTER TABLE escrow_refunds DROP CONSTRAINT escrow_refunds_origin_check;
ALTER TABLE escrow_refunds
  ADD CONSTRAINT escrow_refunds_origin_check CHECK (origin IN ('order', 'dispute', 'payment', 'checkout'));

-- A completed checkout as payment announced it (CheckoutCompleted): which order, payment, coupon
-- redemption and points reservation are its, and its parts.
CREATE TABLE checkouts (
  checkout_id           uuid        PRIMARY KEY,
  event_id              text        NOT NULL,
  operator_id           text        NOT NULL,
  project_id            text        NOT NULL,
  merchant_id           text        NOT NULL DEFAULT '',
  currency              char(3)     NOT NULL,
  -- the payment's id, or the checkout's own when money_minor = 0
  order_id              uuid        NOT NULL UNIQUE,
  payment_id            text        NOT NULL DEFAULT '',
  coupon_redemption_id  text        NOT NULL DEFAULT '',
  points_reservation_id text        NOT NULL DEFAULT '',
  total_minor           bigint      NOT NULL CHECK (total_minor > 0),
  discount_minor        bigint      NOT NULL CHECK (discount_minor >= 0),
  points                bigint      NOT NULL CHECK (points >= 0),
  points_value_minor    bigint      NOT NULL CHECK (points_value_minor >= 0),
  money_minor           bigint      NOT NULL CHECK (money_minor >= 0),
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (total_minor = discount_minor + points_value_minor + money_minor),
  CHECK ((money_minor > 0) = (payment_id <> ''))
);
CREATE INDEX checkouts_coupon ON checkouts (coupon_redemption_id) WHERE coupon_redemption_id <> '';
CREATE INDEX checkouts_points ON checkouts (points_reservation_id) WHERE points_reservation_id <> '';

-- Every coupon redemption (CouponRedeemed) and points redemption (PointsRedeemed), checkout or
-- not, with the place it was credited to and, once a checkout's order took it, that checkout.
--   source     'coupon' (source_id = redemption id) or 'points' (reservation id)
--   tx_id      the redemption's own posting (funder or issuers -> the place's payable); NULL for 0
--   claim_tx_id the move from the place's payable into the checkout's order; NULL when the order
--              could no longer take it (completed or refunded before the part arrived: logged)
CREATE TABLE redeemed_parts (
  source               text        NOT NULL CHECK (source IN ('coupon', 'points')),
  source_id            text        NOT NULL,
  event_id             text        NOT NULL,
  reference            text        NOT NULL DEFAULT '',
  place_operator_id    text        NOT NULL,
  place_project_id     text        NOT NULL DEFAULT '',
  place_merchant_id    text        NOT NULL DEFAULT '',
  funder_operator_id   text        NOT NULL DEFAULT '',
  funder_project_id    text        NOT NULL DEFAULT '',
  funder_merchant_id   text        NOT NULL DEFAULT '',
  currency             char(3)     NOT NULL,
  amount_minor         bigint      NOT NULL CHECK (amount_minor >= 0),
  tx_id                uuid        REFERENCES ledger_transactions,
  checkout_id          uuid        REFERENCES checkouts,
  claim_tx_id          uuid        REFERENCES ledger_transactions,
  -- a coupon redemption rolled back outside a checkout (CouponReleased ROLLED_BACK): its posting reversed
  rollback_tx_id       uuid        REFERENCES ledger_transactions,
  received_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (source, source_id),
  CHECK (claim_tx_id IS NULL OR checkout_id IS NOT NULL)
);

-- Refunds of checkouts (CheckoutRefunded): their discount and points parts go back to the funder
-- and to the points' place when the order has every part ('waiting' until then). The money part
-- is payment's refund (RefundSucceeded), applied by escrow as any refund asked of payment.
CREATE TABLE checkout_refunds (
  checkout_id        uuid        NOT NULL,
  refund_id          text        NOT NULL,
  event_id           text        NOT NULL,
  currency           char(3)     NOT NULL,
  discount_minor     bigint      NOT NULL CHECK (discount_minor >= 0),
  points             bigint      NOT NULL CHECK (points >= 0),
  points_value_minor bigint      NOT NULL CHECK (points_value_minor >= 0),
  money_minor        bigint      NOT NULL CHECK (money_minor >= 0),
  coupon_restored    boolean     NOT NULL,
  status             text        NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'applied')),
  -- the escrow refund that gave the discount and points parts back (NULL when both are 0)
  escrow_refund_id   uuid        REFERENCES escrow_refunds,
  received_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (checkout_id, refund_id)
);
CREATE INDEX checkout_refunds_waiting ON checkout_refunds (checkout_id, received_at) WHERE status = 'waiting';
