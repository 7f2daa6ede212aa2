-- Released checkouts (docs/settlement-checkout.md "Released checkouts"): payment's CheckoutReleased
-- says a checkout kept none of its parts. A checkout released after its payment succeeded
-- (CONFIRM_REFUSED) has an escrow order holding its money (PaymentSucceeded named the checkout):
-- that order never completes and its money goes back to the payer, through payment's own refund
-- (RefundSucceeded, as any refund asked of payment) or, if that refund failed at the channel, through
-- escrow's refund of the order (asked of payment by instruction, as RefundOrder does).

ALTER TABLE escrow_orders
  -- the order's checkout was released: it cannot complete; its money may only go back to the payer
  ADD COLUMN checkout_released boolean NOT NULL DEFAULT false,
  DROP CONSTRAINT escrow_orders_parts_of_checkout,
  ADD CONSTRAINT escrow_orders_parts_of_checkout CHECK (
    checkout_id IS NOT NULL
    OR (discount_minor = 0 AND points_minor = 0 AND NOT parts_pending AND NOT checkout_released));

ALTER TABLE escrow_refunds DROP CONSTRAINT escrow_refunds_origin_check;
ALTER TABLE escrow_refunds
  ADD CONSTRAINT escrow_refunds_origin_check
  CHECK (origin IN ('order', 'dispute', 'payment', 'checkout', 'checkout_release'));

-- A released checkout as payment announced it (CheckoutReleased).
--   order_id          its payment's id (its order, once PaymentSucceeded arrived); NULL without money
--   payment_refund_id payment's refund of the money (CONFIRM_REFUSED); '' when payment refunds nothing
--   escrow_refund_id  escrow's refund of the order, started when payment's refund failed (or when
--                     payment refunds nothing although the order holds money); set once
CREATE TABLE checkout_releases (
  checkout_id           uuid        PRIMARY KEY,
  event_id              text        NOT NULL,
  operator_id           text        NOT NULL,
  project_id            text        NOT NULL,
  order_id              uuid,
  payment_refund_id     text        NOT NULL DEFAULT '',
  reason                text        NOT NULL DEFAULT '',
  coupon_redemption_id  text        NOT NULL DEFAULT '',
  points_reservation_id text        NOT NULL DEFAULT '',
  escrow_refund_id      uuid        REFERENCES escrow_refunds,
  received_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX checkout_releases_order ON checkout_releases (order_id) WHERE order_id IS NOT NULL;

-- Refunds asked of payment directly that failed at the channel (RefundFailed without an
-- instruction), of checkouts' orders only: a released checkout whose money refund failed is
-- refunded by escrow instead, whichever of the two events arrives first.
CREATE TABLE failed_payment_refunds (
  payment_refund_id text        PRIMARY KEY,
  order_id          uuid        NOT NULL REFERENCES escrow_orders,
  event_id          text        NOT NULL,
  reason            text        NOT NULL DEFAULT '',
  received_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
