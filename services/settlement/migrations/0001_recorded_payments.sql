-- Payments settlement has learned of from the payment service's events (consumed through the inbox).
CREATE TABLE recorded_payments (
  payment_id   uuid        PRIMARY KEY,
  operator_id  text        NOT NULL,
  project_id   text        NOT NULL,
  merchant_id  text        NOT NULL,
  scenario     smallint    NOT NULL,
  currency     char(3)     NOT NULL,
  amount_minor bigint      NOT NULL,
  channel      text        NOT NULL,
  occurred_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  event_id     uuid        NOT NULL
);
