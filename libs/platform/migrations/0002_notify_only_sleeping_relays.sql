-- Transactions that NOTIFY serialize at commit on a global queue lock, which capped outbox writers
-- at a few hundred commits per second (tools/bench backbone). A relay that is busy polls anyway,
-- so writers now notify only when the relay owning the row's shard is asleep. A relay lists its
-- shards here while it is busy and removes them before it waits (docs/adr/0004).
CREATE TABLE outbox_relay_awake (
  shard smallint PRIMARY KEY CHECK (shard >= 0 AND shard < 16)
);

DROP TRIGGER outbox_notify ON outbox;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outbox_relay_awake WHERE shard = NEW.shard) THEN
    PERFORM pg_notify('citybase_outbox', '');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();
