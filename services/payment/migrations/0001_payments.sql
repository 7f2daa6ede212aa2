-- Payments recorded by the payment service. request_id is the caller's idempotency key;
-- request_hash tells a retry (same request) from a different request reusing the key.
CREATE TABLE payments (
  payment_id   uuid        PRIMARY KEY,
  request_id   text        NOT NULL UNIQUE,
  request_hash text        NOT NULL,
  operator_id  text        NOT NULL,
  project_id   text        NOT NULL,
  merchant_id  text        NOT NULL,
  scenario     smallint    NOT NULL,
  currency     char(3)     NOT NULL,
  amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
  payer_ref    text        NOT NULL,
  description  text        NOT NULL,
  status       smallint    NOT NULL,
  channel      text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_project_created ON payments (operator_id, project_id, created_at);
