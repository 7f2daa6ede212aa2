-- A checkout's money part names its checkout (docs/payment-checkout.md): payment's events carry it
-- (PaymentCreated, PaymentSucceeded, PaymentFailed, PaymentExpired checkout_id) so settlement makes
-- the payment's escrow order the checkout's from the start. '' for a payment of its own.
ALTER TABLE payments ADD COLUMN checkout_id text NOT NULL DEFAULT '';

-- The money refund of a checkout released after its payment succeeded (a reservation refused
-- confirmation): written in the commit that accepts the refund, so a retry starts the same one.
ALTER TABLE checkouts ADD COLUMN money_refund_id uuid;
