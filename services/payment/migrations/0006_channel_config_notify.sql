-- Each payment replica keeps the channel catalog, project channel accounts and routing rules in
-- memory (channels/channel-config-cache.ts). Any change to them is announced on the channel
-- citybase_payment_channels at commit, so that every replica drops what it holds.

CREATE FUNCTION notify_payment_channel_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('citybase_payment_channels', TG_TABLE_NAME);
  RETURN NULL;
END $$;

CREATE TRIGGER channels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channels
  FOR EACH STATEMENT EXECUTE FUNCTION notify_payment_channel_config();
CREATE TRIGGER project_channels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_channels
  FOR EACH STATEMENT EXECUTE FUNCTION notify_payment_channel_config();
CREATE TRIGGER routing_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routing_rules
  FOR EACH STATEMENT EXECUTE FUNCTION notify_payment_channel_config();
