-- Payments iot asks of payment (services/iot/src/billing, docs/iot.md "Billing"): one row per
-- CreatePayment to make (call id = payment's request id, derived from what it is for, so a need
-- never makes two payments), DUE until payment answered, then DONE with the payment id.
CREATE TABLE billing_calls (
  call_id        text        PRIMARY KEY,
  purpose        text        NOT NULL CHECK (purpose IN ('PARKING', 'CHARGING')),
  -- The parking or charging session paid for.
  subject_id     uuid        NOT NULL,
  operator_id    text        NOT NULL,
  project_id     text        NOT NULL,
  merchant_id    text        NOT NULL,
  currency       text        NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  payer_ref      text        NOT NULL DEFAULT '',
  description    text        NOT NULL DEFAULT '',
  expires_in_s   integer     NOT NULL,
  status         text        NOT NULL DEFAULT 'DUE' CHECK (status IN ('DUE', 'DONE', 'REFUSED')),
  payment_id     text,
  outcome        text        CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'EXPIRED')),
  attempts       integer     NOT NULL DEFAULT 0,
  last_error     text        NOT NULL DEFAULT '',
  next_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  done_at        timestamptz
);

CREATE UNIQUE INDEX billing_calls_payment ON billing_calls (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX billing_calls_subject ON billing_calls (subject_id);
CREATE INDEX billing_calls_due ON billing_calls (next_at) WHERE status = 'DUE';

-- A payment outcome that arrived before CreatePayment's answer gave us its payment id.
CREATE TABLE billing_unmatched (
  payment_id  text        PRIMARY KEY,
  outcome     text        NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'EXPIRED')),
  received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
