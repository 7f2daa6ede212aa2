-- Transactional outbox and idempotent inbox, present in every service database.
-- Design: docs/adr/0004-event-backbone.md (ARCHITECTURE.md section 4).

-- A service writes its state change and its outbox rows in one transaction; a relay publishes
-- pending rows of the shards it owns, in id order, and marks them. For one partition key, id
-- order equals commit order (enqueue takes a per-key transaction lock before inserting).
CREATE TABLE outbox (
  id            bigserial   PRIMARY KEY,
  event_id      uuid        NOT NULL UNIQUE,
  shard         smallint    NOT NULL CHECK (shard >= 0 AND shard < 16),
  topic         text        NOT NULL,
  partition_key text        NOT NULL,
  event_type    text        NOT NULL,
  headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  payload       bytea       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (shard, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('citybase_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- A consumer writes its effects and its inbox row in one transaction; a redelivered event finds
-- its row and is skipped.
CREATE TABLE inbox (
  consumer        text        NOT NULL,
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  processed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
