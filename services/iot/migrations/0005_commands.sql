-- Device commands (services/iot/src/commands, docs/iot.md "Commands"): one row per command, its
-- state machine QUEUED > SENT > DELIVERED > SUCCEEDED | FAILED | EXPIRED | TIMED_OUT (| CANCELLED),
-- the deadline the device is told, and when each step happened. A final state is never left
-- (the trigger below), so a command ends in exactly one.
CREATE TABLE commands (
  command_id    uuid        PRIMARY KEY,
  operator_id   text        NOT NULL,
  project_id    text        NOT NULL,
  device_id     uuid        NOT NULL,
  kind          text        NOT NULL CHECK (kind IN ('DOOR_OPEN', 'GATE_OPEN', 'GATE_CLOSE', 'CHARGER_START',
                                                     'CHARGER_STOP', 'REBOOT')),
  state         text        NOT NULL DEFAULT 'QUEUED'
                CHECK (state IN ('QUEUED', 'SENT', 'DELIVERED', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'TIMED_OUT',
                                 'CANCELLED')),
  args          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  reference     text        NOT NULL DEFAULT '',
  detail        text        NOT NULL DEFAULT '',
  deadline      timestamptz NOT NULL,
  publish_count integer     NOT NULL DEFAULT 0,
  created_by    text        NOT NULL DEFAULT '',
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  sent_at       timestamptz,
  delivered_at  timestamptz,
  completed_at  timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((state IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'TIMED_OUT', 'CANCELLED')) = (completed_at IS NOT NULL))
);

CREATE FUNCTION commands_final_is_final() RETURNS trigger AS $$
BEGIN
  IF OLD.state IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'TIMED_OUT', 'CANCELLED') AND NEW.state <> OLD.state THEN
    RAISE EXCEPTION 'command % already ended %', OLD.command_id, OLD.state USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER commands_final_is_final BEFORE UPDATE ON commands
  FOR EACH ROW EXECUTE FUNCTION commands_final_is_final();

-- The job's work: open commands by deadline.
CREATE INDEX commands_open_deadline ON commands (deadline) WHERE state IN ('QUEUED', 'SENT', 'DELIVERED');
-- Lists: a device's commands newest first (page token (created_at, command_id)).
CREATE INDEX commands_device_created ON commands (device_id, created_at DESC, command_id DESC);
