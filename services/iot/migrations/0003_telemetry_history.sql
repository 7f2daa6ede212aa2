-- Telemetry history (services/iot/src/history, docs/iot.md "State and history"): one row per
-- device message, in daily partitions (native range partitioning on measured_at) made ahead by
-- iot_history_partition() and dropped after IOT_HISTORY_RETENTION_DAYS by the retention job.
-- The primary key drops copies of a (device, message id): the broker may deliver a message again.
CREATE TABLE telemetry_history (
  device_id   uuid        NOT NULL,
  measured_at timestamptz NOT NULL,
  message_id  text        NOT NULL,
  project_id  text        NOT NULL,
  channel     text        NOT NULL,
  event_type  text        NOT NULL DEFAULT '',
  -- {"temperature_c": 21.5, ...}
  readings    jsonb       NOT NULL,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (device_id, message_id, measured_at)
) PARTITION BY RANGE (measured_at);

CREATE INDEX telemetry_history_device_time ON telemetry_history (device_id, measured_at);

-- The partition of one UTC day (telemetry_history_YYYYMMDD), made if missing.
CREATE FUNCTION iot_history_partition(day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  name text := 'telemetry_history_' || to_char(day, 'YYYYMMDD');
BEGIN
  IF to_regclass(name) IS NULL THEN
    BEGIN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF telemetry_history FOR VALUES FROM (%L) TO (%L)',
        name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    EXCEPTION WHEN duplicate_table THEN
      NULL; -- another writer made it at the same moment
    END;
  END IF;
  RETURN name;
END $$;
