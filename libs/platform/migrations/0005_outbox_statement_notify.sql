-- One wake-up check per INSERT statement instead of one per row: a multi-row enqueue (enqueueMany)
-- ran the row trigger, and its look-up in outbox_relay_awake, once for every event it wrote. The
-- rule is unchanged: notify when a row went to a shard whose relay is asleep (docs/adr/0004).
DROP TRIGGER outbox_notify ON outbox;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM outbox_new n
    WHERE NOT EXISTS (SELECT 1 FROM outbox_relay_awake a WHERE a.shard = n.shard)
  ) THEN
    PERFORM pg_notify('citybase_outbox', '');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS outbox_new
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
