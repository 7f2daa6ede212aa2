-- The checkout a payment is the money part of (payment's events carry checkout_id since issue 14;
-- '' for a payment of its own), so the store can relate payments to checkouts
-- (docs/payment-checkout.md). Facts stored before this have ''.
ALTER TABLE fact_payment ADD COLUMN checkout_id text NOT NULL DEFAULT '';
CREATE INDEX fact_payment_checkout ON fact_payment (checkout_id) WHERE checkout_id <> '';
