-- Payment intents: the status machine created > processing > succeeded | failed | expired (unknown
-- while the channel's answer is not known), refunds, and the channel notifications already applied.
-- Statuses are the proto enum values: PaymentStatus 1 created, 2 processing, 3 succeeded, 4 failed,
-- 5 expired, 6 unknown; RefundStatus 1 processing, 2 succeeded, 3 failed.

-- Idempotency keys are a namespace per calling API client (the token's sub), not global.
ALTER TABLE payments
  ADD COLUMN client_id              text        NOT NULL DEFAULT '',
  ADD COLUMN expires_at             timestamptz,
  ADD COLUMN pay_url                text        NOT NULL DEFAULT '',
  ADD COLUMN channel_transaction_id text        NOT NULL DEFAULT '',
  ADD COLUMN completed_at           timestamptz,
  ADD COLUMN failure_reason         text        NOT NULL DEFAULT '',
  ADD COLUMN profit_sharing         boolean     NOT NULL DEFAULT false,
  ADD COLUMN refunded_minor         bigint      NOT NULL DEFAULT 0,
  ADD COLUMN version                integer     NOT NULL DEFAULT 0,
  ADD COLUMN updated_at             timestamptz NOT NULL DEFAULT now(),
  -- Routing (opening the order at a channel) is done by one caller at a time: the holder of this lease.
  ADD COLUMN routing_until          timestamptz,
  -- The reconciler looks at an open payment again at next_check_at (or at expires_at if sooner);
  -- reconciled_until is its lease so that several processes do not work on the same payment at once.
  ADD COLUMN next_check_at          timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN reconciled_until       timestamptz,
  ADD COLUMN checks                 integer     NOT NULL DEFAULT 0;

-- Payments recorded before intents existed: they expire like a default intent would have.
UPDATE payments SET expires_at = created_at + interval '900 seconds' WHERE expires_at IS NULL;
ALTER TABLE payments ALTER COLUMN expires_at SET NOT NULL;

ALTER TABLE payments DROP CONSTRAINT payments_request_id_key;
ALTER TABLE payments ADD CONSTRAINT payments_client_request_key UNIQUE (client_id, request_id);
ALTER TABLE payments
  ADD CONSTRAINT payments_status_known CHECK (status BETWEEN 1 AND 6),
  ADD CONSTRAINT payments_refunds_within_amount CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
  ADD CONSTRAINT payments_final_completed CHECK (status NOT IN (3, 4, 5) OR completed_at IS NOT NULL);

-- What the reconciler scans: open payments by when they are due.
CREATE INDEX payments_open_due ON payments (LEAST(next_check_at, expires_at)) WHERE status IN (1, 2, 6);
-- Fund flows: succeeded payments by the time they succeeded.
CREATE INDEX payments_succeeded_completed ON payments (completed_at) WHERE status = 3;

-- Every channel at which an order of a payment was (or may have been) opened. A payment is routed
-- to one channel (payments.channel, whose pay_url alone is given out); when opening the order at a
-- channel had no definite answer and routing fell back to the next one, the order that may exist
-- there is remembered here and closed by the reconciler, so that it can never be paid as well.
--   pending  the call's outcome is unknown: an order may exist
--   open     the order exists (the payment's channel)
--   closed   the channel closed it (or has none)
--   rejected the channel refused to open it
--   paid     the channel reports it paid
CREATE TABLE payment_channel_orders (
  payment_id uuid        NOT NULL REFERENCES payments (payment_id),
  channel_id text        NOT NULL,
  state      text        NOT NULL CHECK (state IN ('pending', 'open', 'closed', 'rejected', 'paid')),
  attempt    integer     NOT NULL,
  detail     text        NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (payment_id, channel_id)
);
CREATE INDEX payment_channel_orders_pending ON payment_channel_orders (updated_at) WHERE state IN ('pending', 'open');

CREATE TABLE refunds (
  refund_id         uuid        PRIMARY KEY,
  payment_id        uuid        NOT NULL REFERENCES payments (payment_id),
  client_id         text        NOT NULL,
  request_id        text        NOT NULL,
  request_hash      text        NOT NULL,
  channel           text        NOT NULL,
  currency          char(3)     NOT NULL,
  amount_minor      bigint      NOT NULL CHECK (amount_minor > 0),
  reason            text        NOT NULL,
  status            smallint    NOT NULL CHECK (status BETWEEN 1 AND 3),
  channel_refund_id text        NOT NULL DEFAULT '',
  failure_reason    text        NOT NULL DEFAULT '',
  created_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  next_check_at     timestamptz NOT NULL DEFAULT now(),
  reconciled_until  timestamptz,
  checks            integer     NOT NULL DEFAULT 0,
  CONSTRAINT refunds_client_request_key UNIQUE (client_id, request_id),
  CONSTRAINT refunds_final_completed CHECK (status = 1 OR completed_at IS NOT NULL)
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_processing_due ON refunds (next_check_at) WHERE status = 1;
CREATE INDEX refunds_succeeded_completed ON refunds (completed_at) WHERE status = 2;

-- Notifications a channel posted that were verified and applied; a duplicate is acknowledged and ignored.
CREATE TABLE channel_notifications (
  channel_id      text        NOT NULL,
  notification_id text        NOT NULL,
  payment_id      uuid        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('order', 'refund')),
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel_id, notification_id)
);
