-- EV charging paid through payment's checkout (money + points + coupon) when the resident's app asks
-- (ChargingService.PayChargingSession; docs/iot.md "Charging paid with points and coupons").

-- A billing call is a plain CreatePayment (PAYMENT) or a CreateCheckout (CHECKOUT) with the points
-- and coupon code the app asked for; a checkout's answer gives its id (and its pay URL), its end
-- comes as CheckoutCompleted (SUCCEEDED) or CheckoutReleased (RELEASED).
ALTER TABLE billing_calls
  ADD COLUMN kind             text   NOT NULL DEFAULT 'PAYMENT' CHECK (kind IN ('PAYMENT', 'CHECKOUT')),
  ADD COLUMN user_id          text   NOT NULL DEFAULT '',
  ADD COLUMN points           bigint NOT NULL DEFAULT 0 CHECK (points >= 0),
  ADD COLUMN points_holder_id text   NOT NULL DEFAULT '',
  ADD COLUMN coupon_code      text   NOT NULL DEFAULT '',
  ADD COLUMN coupon_id        text   NOT NULL DEFAULT '',
  ADD COLUMN checkout_id      text,
  ADD COLUMN pay_url          text   NOT NULL DEFAULT '';
CREATE UNIQUE INDEX billing_calls_checkout ON billing_calls (checkout_id) WHERE checkout_id IS NOT NULL;

ALTER TABLE billing_calls DROP CONSTRAINT billing_calls_outcome_check;
ALTER TABLE billing_calls
  ADD CONSTRAINT billing_calls_outcome_check CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'RELEASED'));
-- Keyed by the payment's or the checkout's id (both uuids of payment's).
ALTER TABLE billing_unmatched DROP CONSTRAINT billing_unmatched_outcome_check;
ALTER TABLE billing_unmatched
  ADD CONSTRAINT billing_unmatched_outcome_check CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'RELEASED'));

-- Where a session's payment stands; the checkout the app chose (before the stop: its points and
-- coupon wait in checkout_choice until the bill is known); the attempt of its latest billing call
-- (call id iot:charging:<session>:<attempt>: 1 is the stop's).
ALTER TABLE charging_sessions
  ADD COLUMN payment_state   text    NOT NULL DEFAULT 'NONE'
    CHECK (payment_state IN ('NONE', 'CHECKOUT_CHOSEN', 'OPEN', 'PAID', 'UNPAID')),
  ADD COLUMN checkout_choice jsonb,
  ADD COLUMN checkout_id     text,
  ADD COLUMN pay_attempt     integer NOT NULL DEFAULT 0 CHECK (pay_attempt >= 0);
-- Sessions billed before this migration: their one payment was asked at the stop.
UPDATE charging_sessions s
   SET pay_attempt = 1,
       payment_state = CASE WHEN c.outcome = 'SUCCEEDED' THEN 'PAID' WHEN c.outcome IS NULL AND c.status <> 'REFUSED'
                            THEN 'OPEN' ELSE 'UNPAID' END
  FROM billing_calls c
 WHERE c.call_id = 'iot:charging:' || s.session_id || ':1';
