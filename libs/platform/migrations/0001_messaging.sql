-- Transactional outbox and idempotent inbox, present in every service database (ARCHITECTURE.md section 4).
-- A service writes its state change and its outbox rows in one transaction; the relay publishes
-- pending rows and marks them. A consumer writes its effects and its inbox row in one transaction.

CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  event_id      uuid        NOT NULL UNIQUE,
  topic         text        NOT NULL,
  partition_key text        NOT NULL,
  event_type    text        NOT NULL,
  headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  payload       bytea       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE inbox (
  consumer     text        NOT NULL,
  event_id     uuid        NOT NULL,
  event_type   text        NOT NULL,
  topic        text        NOT NULL,
  kafka_partition integer  NOT NULL,
  kafka_offset bigint      NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
